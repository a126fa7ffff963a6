; Inno Setup script of the Studio's Windows installer (docs/packaging.md).
; On Windows, after `pyinstaller --noconfirm packaging\studio.spec` has built dist\studio\:
;     iscc packaging\windows\studio.iss        -> dist\studio-0.1.0-setup.exe
; Installs the one-folder build under Program Files, a Start-menu entry, and the .realm
; file association (double-clicking a realm opens it in the Studio). Not built here:
; only Linux can be built on this project's machines.

#define AppName "Studio"
#define AppVersion "0.1.0"
#define AppExe "studio.exe"
#define ProgId "Studio.Realm"

[Setup]
AppId={{6B7E2F1C-3C1D-4E55-9A6E-5D1F0C2B7A41}
AppName={#AppName}
AppVersion={#AppVersion}
AppPublisher=The Studio developers
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
UninstallDisplayIcon={app}\{#AppExe}
SetupIconFile=studio.ico
SourceDir=.
OutputDir=..\..\dist
OutputBaseFilename=studio-{#AppVersion}-setup
Compression=lzma2
SolidCompression=yes
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
PrivilegesRequiredOverridesAllowed=dialog
ChangesAssociations=yes
WizardStyle=modern

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; Flags: unchecked

[Files]
Source: "..\..\dist\studio\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\{#AppName}"; Filename: "{app}\{#AppExe}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; Tasks: desktopicon

[Registry]
; .realm -> Studio.Realm -> "studio.exe" "%1" (per user or per machine, as installed)
Root: HKA; Subkey: "Software\Classes\.realm"; ValueType: string; ValueName: ""; ValueData: "{#ProgId}"; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\.realm"; ValueType: string; ValueName: "Content Type"; ValueData: "application/x-realm"; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\{#ProgId}"; ValueType: string; ValueName: ""; ValueData: "Realm database"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\{#ProgId}\DefaultIcon"; ValueType: string; ValueName: ""; ValueData: "{app}\{#AppExe},0"
Root: HKA; Subkey: "Software\Classes\{#ProgId}\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\{#AppExe}"" ""%1"""
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}\SupportedTypes"; ValueType: string; ValueName: ".realm"; ValueData: ""

[Run]
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent
