<#
.SYNOPSIS
    Installs the bacnet-pipeline native worker (the gateway) on Windows.

.DESCRIPTION
    Docker Desktop cannot reach the building LAN's BACnet broadcasts, so on Windows the worker runs
    natively: `bacnet-pipeline gateway` receives signed jobs from the web and scheduler containers
    on port 5001 and owns the BACnet/IP socket. This script, run as Administrator:

      1. checks Python (3.11 or newer),
      2. creates a virtualenv in -InstallDir and installs requirements\windows.txt and the project,
      3. writes -InstallDir\.env: database and Redis at 127.0.0.1 (published by docker-compose.yml),
         BACNET_ADDRESS, and the GATEWAY_SECRET it shares with the compose .env (generated there
         when missing),
      4. opens the Windows firewall for the gateway port from the Docker subnet only, and for
         BACnet/IP (UDP 47808) from the local subnet to the gateway's python.exe,
      5. registers the scheduled task 'bacnet-pipeline-gateway': starts at boot, restarts on failure,
      6. runs `bacnet-pipeline doctor --mode gateway` and starts the task.

    Run it again to upgrade or to change a parameter; uninstall-native-worker.ps1 undoes it.

.EXAMPLE
    .\install-native-worker.ps1 -BacnetAddress 192.0.2.10/24
#>
[CmdletBinding()]
param(
    # This host's address on the BACnet network, with its prefix length (192.0.2.10/24).
    [Parameter(Mandatory = $true)]
    [ValidatePattern('^\d{1,3}(\.\d{1,3}){3}/\d{1,2}(:\d{1,5})?$')]
    [string] $BacnetAddress,

    # Where the virtualenv, the gateway's .env and its logs go.
    [string] $InstallDir = (Join-Path $env:ProgramData 'bacnet-pipeline'),

    # The compose .env next to docker-compose.yml: POSTGRES_PASSWORD and GATEWAY_SECRET come from it.
    [string] $ComposeEnv = (Join-Path $PSScriptRoot '.env'),

    # Subnets the Docker containers connect from (CIDR). Default: the WSL / Docker vEthernet adapters.
    [string[]] $DockerSubnet = @(),

    # A Python 3.11+ executable. Default: the py launcher's newest 3.x, else python on PATH.
    [string] $Python = '',

    # Keep the gateway's queue in memory instead of the compose Redis (jobs waiting at a restart are
    # then marked lost instead of kept).
    [switch] $InProcessQueue
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0

# The gateway's port: docker-compose.yml sends jobs to http://host.docker.internal:5001.
$GatewayPort = 5001
$TaskName = 'bacnet-pipeline-gateway'
$FirewallGroup = 'bacnet-pipeline'
$MinPython = [version]'3.11'
$RepoRoot = (Resolve-Path (Join-Path $PSScriptRoot '..\..')).Path

function Assert-Administrator {
    $principal = New-Object Security.Principal.WindowsPrincipal([Security.Principal.WindowsIdentity]::GetCurrent())
    if (-not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {
        throw 'Run this script as Administrator (it adds firewall rules and a scheduled task).'
    }
}

function Find-Python {
    $candidates = @()
    if ($Python) { $candidates += , @($Python) }
    if (Get-Command py -ErrorAction SilentlyContinue) { $candidates += , @('py', '-3') }
    if (Get-Command python -ErrorAction SilentlyContinue) { $candidates += , @('python') }
    foreach ($candidate in $candidates) {
        $exe = $candidate[0]
        $prefix = @($candidate | Select-Object -Skip 1)
        # No double quotes inside -c: Windows PowerShell 5.1 passes them to native programs unescaped.
        $text = & $exe @prefix -c 'import sys; print(*sys.version_info[:2], sep=chr(46))' 2>$null
        if ($LASTEXITCODE -eq 0 -and $text) {
            if ([version]$text -ge $MinPython) {
                $path = & $exe @prefix -c 'import sys; print(sys.executable)'
                Write-Host "Python $text at $path"
                return $path
            }
            Write-Warning "$($candidate -join ' ') is Python $text; bacnet-pipeline needs $MinPython or newer"
        }
    }
    throw "No Python $MinPython or newer found: install it from python.org (tick 'Add python.exe to PATH') or pass -Python"
}

function Read-DotEnv([string] $Path) {
    $values = @{}
    if (Test-Path $Path) {
        foreach ($line in Get-Content -Path $Path -Encoding UTF8) {
            if ($line -match '^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$') { $values[$Matches[1]] = $Matches[2] }
        }
    }
    return $values
}

function Set-DotEnvValue([string] $Path, [string] $Name, [string] $Value) {
    # Replace NAME= (empty or not) in place, else append; other lines are kept as they are.
    $lines = @()
    if (Test-Path $Path) { $lines = @(Get-Content -Path $Path -Encoding UTF8) }
    $found = $false
    $lines = @($lines | ForEach-Object {
        if ($_ -match "^\s*$Name\s*=") { $found = $true; "$Name=$Value" } else { $_ }
    })
    if (-not $found) { $lines += "$Name=$Value" }
    Set-Content -Path $Path -Value $lines -Encoding ASCII
}

function New-Secret {
    $bytes = New-Object byte[] 32
    [Security.Cryptography.RandomNumberGenerator]::Create().GetBytes($bytes)
    return -join ($bytes | ForEach-Object { $_.ToString('x2') })
}

function ConvertTo-Network([string] $Address, [int] $Prefix) {
    $bytes = [Net.IPAddress]::Parse($Address).GetAddressBytes()
    [Array]::Reverse($bytes)
    $value = [BitConverter]::ToUInt32($bytes, 0)
    $mask = [uint32]([math]::Pow(2, 32) - [math]::Pow(2, 32 - $Prefix))
    $network = [BitConverter]::GetBytes([uint32]($value -band $mask))
    [Array]::Reverse($network)
    return "$((New-Object Net.IPAddress (, $network)).ToString())/$Prefix"
}

function Find-DockerSubnets {
    # Docker Desktop (WSL 2 or Hyper-V) reaches the host through a vEthernet adapter.
    $found = @(Get-NetIPAddress -AddressFamily IPv4 -ErrorAction SilentlyContinue |
        Where-Object { $_.InterfaceAlias -like 'vEthernet (WSL*' -or $_.InterfaceAlias -like 'vEthernet (Docker*' } |
        ForEach-Object { ConvertTo-Network $_.IPAddress $_.PrefixLength })
    return @($found | Select-Object -Unique)
}

function Stop-Gateway {
    # Stop the task and whatever still runs from $InstallDir (supervisor, launcher, python): a running
    # python.exe locks the virtualenv's files and the BACnet port.
    if (Get-ScheduledTask -TaskName $TaskName -ErrorAction SilentlyContinue) {
        Stop-ScheduledTask -TaskName $TaskName -ErrorAction SilentlyContinue
    }
    Get-CimInstance Win32_Process |
        Where-Object { $_.ProcessId -ne $PID -and $_.CommandLine -and $_.CommandLine.Contains($InstallDir) } |
        ForEach-Object { Stop-Process -Id $_.ProcessId -Force -ErrorAction SilentlyContinue }
}

Assert-Administrator
$pythonExe = Find-Python
Stop-Gateway

# -- secrets shared with docker compose --------------------------------------------------------------
$compose = Read-DotEnv $ComposeEnv
foreach ($name in 'GATEWAY_SECRET', 'POSTGRES_PASSWORD', 'SECRET_KEY') {
    if (-not $compose.ContainsKey($name) -or -not $compose[$name]) {
        $compose[$name] = New-Secret
        Set-DotEnvValue $ComposeEnv $name $compose[$name]
        Write-Host "Generated $name into $ComposeEnv"
    }
}
$postgresPort = if ($compose['POSTGRES_HOST_PORT']) { $compose['POSTGRES_HOST_PORT'] } else { '5432' }
$redisPort = if ($compose['REDIS_HOST_PORT']) { $compose['REDIS_HOST_PORT'] } else { '6379' }

# -- virtualenv ---------------------------------------------------------------------------------------
New-Item -ItemType Directory -Force -Path $InstallDir, (Join-Path $InstallDir 'logs'), (Join-Path $InstallDir 'instance') | Out-Null
$venv = Join-Path $InstallDir 'venv'
if (-not (Test-Path (Join-Path $venv 'Scripts\python.exe'))) {
    & $pythonExe -m venv $venv
    if ($LASTEXITCODE -ne 0) { throw "creating the virtualenv in $venv failed" }
}
$venvPython = Join-Path $venv 'Scripts\python.exe'
$cli = Join-Path $venv 'Scripts\bacnet-pipeline.exe'
& $venvPython -m pip install --quiet --upgrade pip
# --prefer-binary: every package of windows.txt has a Windows wheel; never fall back to building one.
& $venvPython -m pip install --quiet --prefer-binary -r (Join-Path $RepoRoot 'requirements\windows.txt')
if ($LASTEXITCODE -ne 0) { throw 'installing requirements\windows.txt failed' }
& $venvPython -m pip install --quiet --no-deps --upgrade $RepoRoot
if ($LASTEXITCODE -ne 0) { throw 'installing bacnet-pipeline failed' }

# -- the gateway's own .env (read from its working directory, $InstallDir) ---------------------------
$queue = if ($InProcessQueue) { '' } else { "redis://127.0.0.1:$redisPort/0" }
$envFile = Join-Path $InstallDir '.env'
@(
    "# Written by install-native-worker.ps1 on $(Get-Date -Format s). Run the installer again to change it.",
    "DATABASE_URL=postgresql://bacnet:$($compose['POSTGRES_PASSWORD'])@127.0.0.1:$postgresPort/bacnet",
    "BACNET_ADDRESS=$BacnetAddress",
    '# This host runs the gateway: doctor --ping and the http transport go to it.',
    'BACNET_TRANSPORT=http',
    "GATEWAY_URL=http://127.0.0.1:$GatewayPort",
    "GATEWAY_SECRET=$($compose['GATEWAY_SECRET'])",
    "GATEWAY_BROKER_URL=$queue",
    "INSTANCE_DIR=$(Join-Path $InstallDir 'instance')",
    'LOG_LEVEL=INFO'
) | Set-Content -Path $envFile -Encoding ASCII
# The file holds the secret and the database password: Administrators and SYSTEM only.
& icacls $envFile /inheritance:r /grant:r 'Administrators:F' 'SYSTEM:F' | Out-Null
Copy-Item -Force (Join-Path $PSScriptRoot 'run-native-worker.ps1') (Join-Path $InstallDir 'run-native-worker.ps1')

# -- firewall -----------------------------------------------------------------------------------------
if ($DockerSubnet.Count -eq 0) { $DockerSubnet = Find-DockerSubnets }
if ($DockerSubnet.Count -eq 0) {
    throw ('No Docker subnet found: pass -DockerSubnet with the subnet of Docker Desktop ' +
           '(Settings > Resources > Network) or of the vEthernet (WSL) adapter (ipconfig)')
}
Get-NetFirewallRule -Group $FirewallGroup -ErrorAction SilentlyContinue | Remove-NetFirewallRule
New-NetFirewallRule -DisplayName "bacnet-pipeline gateway (TCP $GatewayPort from Docker)" -Group $FirewallGroup `
    -Direction Inbound -Action Allow -Protocol TCP -LocalPort $GatewayPort -RemoteAddress $DockerSubnet -Profile Any | Out-Null
$bacnetPort = if ($BacnetAddress -match ':(\d+)$') { $Matches[1] } else { '47808' }
# Devices answer Who-Is with I-Am broadcasts, which are not replies to anything in the firewall's
# eyes: allow BACnet/IP in from the local subnet, for Python only. The program is the base
# interpreter: a virtualenv's python.exe on Windows only launches it.
New-NetFirewallRule -DisplayName "bacnet-pipeline BACnet/IP (UDP $bacnetPort)" -Group $FirewallGroup `
    -Direction Inbound -Action Allow -Protocol UDP -LocalPort $bacnetPort -RemoteAddress LocalSubnet `
    -Program $pythonExe -Profile Any | Out-Null
Write-Host "Firewall: TCP $GatewayPort from $($DockerSubnet -join ', '); UDP $bacnetPort from the local subnet"

# -- scheduled task: at boot, as SYSTEM, restarted on failure -----------------------------------------
$runner = Join-Path $InstallDir 'run-native-worker.ps1'
$action = New-ScheduledTaskAction -Execute 'powershell.exe' -WorkingDirectory $InstallDir `
    -Argument "-NoProfile -NonInteractive -ExecutionPolicy Bypass -File `"$runner`" -InstallDir `"$InstallDir`" -Supervise"
$trigger = New-ScheduledTaskTrigger -AtStartup
$principal = New-ScheduledTaskPrincipal -UserId 'SYSTEM' -LogonType ServiceAccount -RunLevel Highest
# The runner itself restarts the gateway when it exits; these settings restart the runner.
$settings = New-ScheduledTaskSettingsSet -RestartCount 999 -RestartInterval (New-TimeSpan -Minutes 1) `
    -ExecutionTimeLimit ([TimeSpan]::Zero) -StartWhenAvailable -AllowStartIfOnBatteries -DontStopIfGoingOnBatteries `
    -MultipleInstances IgnoreNew
if (Get-ScheduledTask -TaskName $TaskName -ErrorAction SilentlyContinue) {
    Unregister-ScheduledTask -TaskName $TaskName -Confirm:$false
}
Register-ScheduledTask -TaskName $TaskName -Action $action -Trigger $trigger -Principal $principal -Settings $settings `
    -Description 'bacnet-pipeline native worker: signed job endpoint on port 5001 + BACnet engine' | Out-Null

# -- check and start ----------------------------------------------------------------------------------
Push-Location $InstallDir
try {
    & $cli doctor --mode gateway
    $doctorFailed = $LASTEXITCODE -ne 0
} finally {
    Pop-Location
}
Start-ScheduledTask -TaskName $TaskName
Write-Host ''
Write-Host "Installed. The gateway runs as scheduled task '$TaskName'; log: $(Join-Path $InstallDir 'logs\gateway.log')"
Write-Host "Now start the containers: docker compose up -d --build (in $PSScriptRoot)"
if ($doctorFailed) {
    Write-Warning 'doctor reported failures above (the database is expected to fail until the containers run).'
    Write-Host "Check again with: $(Join-Path $InstallDir 'run-native-worker.ps1') -Doctor"
}
