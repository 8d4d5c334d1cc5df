; Inno Setup 6 script of Alignment Workbench: turns dist\AlignmentWorkbench (the PyInstaller one-folder build)
; into AlignmentWorkbench-<version>-<edition>-setup.exe with a Start-menu entry and an uninstaller.
;
; UNTESTED: written and reviewed directive by directive against the Inno Setup 6 help (jrsoftware.org/ishelp);
; no Windows machine was available. Compile with packaging\build_windows.ps1, or by hand:
;   iscc /DAppVersion=0.1.0 /DEdition=cpu /DSourceDir=..\..\dist\AlignmentWorkbench packaging\windows\workbench.iss
;
; Per-user install by default (no administrator prompt; {autopf} = %LOCALAPPDATA%\Programs), with the usual
; "install for all users" choice on the privileges page. Projects and settings are never in {app}, so the
; uninstaller removes only what Setup put there.

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#ifndef Edition
  #define Edition "cpu"
#endif
#ifndef SourceDir
  #define SourceDir "..\..\dist\AlignmentWorkbench"
#endif
#ifndef OutputDir
  #define OutputDir "..\..\dist"
#endif
#ifndef IconFile
  #define IconFile "..\..\build\icons\workbench.ico"
#endif
#define AppName "Alignment Workbench"
#define AppExe "workbench.exe"

[Setup]
; AppId identifies the installation for upgrades and the uninstaller: never change it between versions.
; The CPU and CUDA editions share it, so installing one replaces the other.
AppId={{7B0E4C1A-5D2F-4F7B-9A51-3C8E2B6D9F10}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion} ({#Edition})
AppPublisher=Alignment Workbench contributors
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0
OutputDir={#OutputDir}
OutputBaseFilename=AlignmentWorkbench-{#AppVersion}-{#Edition}-setup
SetupIconFile={#IconFile}
UninstallDisplayIcon={app}\{#AppExe}
UninstallDisplayName={#AppName} {#AppVersion}
WizardStyle=modern
; lzma2 on torch's DLLs: "max" gains little over "normal" but doubles compile time.
Compression=lzma2/normal
SolidCompression=yes
LZMAUseSeparateProcess=yes
; The compressed CUDA edition can pass Inno Setup's 4.2 GB single-file limit: then Setup-*.bin slices are made.
#if Edition != "cpu"
DiskSpanning=yes
DiskSliceSize=max
#endif
ChangesAssociations=no
CloseApplications=yes

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
; The whole one-folder build: workbench.exe (windowed), workbench-cli.exe (console) and _internal\.
Source: "{#SourceDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[InstallDelete]
; An upgrade must not leave modules of the previous version behind in _internal (stale .pyd/.dll files).
Type: filesandordirs; Name: "{app}\_internal"

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#AppExe}"; WorkingDir: "{userdocs}"
Name: "{autoprograms}\{#AppName} self-test"; Filename: "{cmd}"; Parameters: "/k ""{app}\workbench-cli.exe"" --self-test"; WorkingDir: "{userdocs}"; IconFilename: "{app}\{#AppExe}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; WorkingDir: "{userdocs}"; Tasks: desktopicon

[Run]
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

[UninstallDelete]
; Python may write __pycache__ next to torch's .py sources (PyInstaller collects them as files): remove them too.
Type: filesandordirs; Name: "{app}\_internal"
