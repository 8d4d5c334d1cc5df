"""Preference methods: the DPO-family losses (LOSSES.md), the multi-objective methods (weighted, MAH-DPO heads, MODPO margins, soups) and implicit-reward margins."""
