# Build the Windows installer of Alignment Workbench: PyInstaller one-folder build + Inno Setup 6 setup.exe.
#
# UNTESTED: no Windows machine was available. Written against PyInstaller 6 and Inno Setup 6 documentation and
# mirrors packaging/build_linux.sh, which is tested.
#
#   powershell -ExecutionPolicy Bypass -File packaging\build_windows.ps1 [-Python .venv\Scripts\python.exe]
#       [-Edition cpu|cu128] [-Clean] [-NoSmoke]
# Needs: Python 3.11 whose venv was made from the lock (pip install --require-hashes -r
# packaging\locks\cpu-windows-x86_64.txt; cu128: cu128-windows-x86_64.txt, not committed yet, packaging/README.md);
# Inno Setup 6 (iscc.exe on PATH or in its default folder; `choco install innosetup` on CI).
# Result: dist\AlignmentWorkbench-<version>-<edition>-setup.exe
[CmdletBinding()]
param(
    [string]$Python = ".venv\Scripts\python.exe",
    [string]$Edition = "cpu",
    [switch]$Clean,
    [switch]$NoSmoke
)
$ErrorActionPreference = "Stop"
Set-StrictMode -Version Latest
$Root = Split-Path -Parent $PSScriptRoot
Set-Location $Root

function Invoke-Checked([string]$Exe, [string[]]$Arguments) {
    # Native programs do not throw on failure in PowerShell 5: check the exit code ourselves.
    & $Exe @Arguments
    if ($LASTEXITCODE -ne 0) { throw "$Exe $($Arguments -join ' ') failed with exit code $LASTEXITCODE" }
}

$Version = (& $Python -c "import workbench; print(workbench.__version__)").Trim()
$Watch = [System.Diagnostics.Stopwatch]::StartNew()

Invoke-Checked $Python @("packaging\make_icons.py", "build\icons")
$PyiArgs = @("-m", "PyInstaller", "--noconfirm", "--log-level", "WARN", "--distpath", "dist",
             "--workpath", "build\pyinstaller", "packaging\workbench.spec")
if ($Clean) { $PyiArgs += "--clean" }
Invoke-Checked $Python $PyiArgs
$Built = $Watch.Elapsed.TotalSeconds

$IsccCommand = Get-Command iscc.exe -ErrorAction SilentlyContinue  # (no .Source on $null under StrictMode)
$Iscc = if ($IsccCommand) { $IsccCommand.Source } else { Join-Path ${env:ProgramFiles(x86)} "Inno Setup 6\ISCC.exe" }
if (-not (Test-Path $Iscc)) { throw "Inno Setup 6 not found: install it (choco install innosetup) or put iscc.exe on PATH" }
# iscc resolves relative paths against the .iss file's folder, so pass absolute ones.
Invoke-Checked $Iscc @("/Q", "/DAppVersion=$Version", "/DEdition=$Edition",
                       "/DSourceDir=$Root\dist\AlignmentWorkbench", "/DOutputDir=$Root\dist",
                       "/DIconFile=$Root\build\icons\workbench.ico", "packaging\windows\workbench.iss")

$Setup = "dist\AlignmentWorkbench-$Version-$Edition-setup.exe"
$AppMB = [math]::Round(((Get-ChildItem -Recurse -File "dist\AlignmentWorkbench" | Measure-Object Length -Sum).Sum / 1MB))
$SetupMB = [math]::Round((Get-Item $Setup).Length / 1MB)
Write-Host ("build: {0:N0} s, installer: {1:N0} s; app {2} MB, {3} {4} MB" -f $Built,
            ($Watch.Elapsed.TotalSeconds - $Built), $AppMB, $Setup, $SetupMB)

if (-not $NoSmoke) {
    # The console twin prints the report; the windowed workbench.exe would have no console to print to.
    $env:QT_QPA_PLATFORM = "offscreen"
    Invoke-Checked "dist\AlignmentWorkbench\workbench-cli.exe" @("--self-test")
    Remove-Item Env:\QT_QPA_PLATFORM
}
