<#
.SYNOPSIS
    Runs the bacnet-pipeline native worker (gateway) installed by install-native-worker.ps1.

.DESCRIPTION
    Without switches: in this console, until Ctrl-C (stop the scheduled task first, or the BACnet
    port is taken). -Doctor: check the setup and exit. -Supervise: what the scheduled task runs;
    starts the gateway, appends its output to logs\gateway.log and starts it again whenever it
    exits, waiting longer after each quick failure (10 s up to 5 min).

.EXAMPLE
    Stop-ScheduledTask bacnet-pipeline-gateway; .\run-native-worker.ps1
.EXAMPLE
    .\run-native-worker.ps1 -Doctor
#>
[CmdletBinding()]
param(
    [string] $InstallDir = (Join-Path $env:ProgramData 'bacnet-pipeline'),
    [switch] $Supervise,
    [switch] $Doctor
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0

# docker-compose.yml sends jobs to http://host.docker.internal:5001. The gateway listens on every
# interface so the Docker network can reach it; the firewall rule admits only the Docker subnet.
$GatewayPort = 5001
$ListenHost = '0.0.0.0'
# A log file larger than this is moved to gateway.log.1 before the next start.
$MaxLogBytes = 10MB

$cli = Join-Path $InstallDir 'venv\Scripts\bacnet-pipeline.exe'
if (-not (Test-Path $cli)) { throw "$cli not found: run install-native-worker.ps1 first" }
# The settings come from $InstallDir\.env, read from the working directory.
Set-Location $InstallDir

if ($Doctor) {
    & $cli doctor --mode gateway
    exit $LASTEXITCODE
}

if (-not $Supervise) {
    & $cli gateway --host $ListenHost --port $GatewayPort
    exit $LASTEXITCODE
}

$log = Join-Path $InstallDir 'logs\gateway.log'
New-Item -ItemType Directory -Force -Path (Split-Path $log) | Out-Null
$delay = 10
while ($true) {
    if ((Test-Path $log) -and (Get-Item $log).Length -gt $MaxLogBytes) { Move-Item -Force $log "$log.1" }
    $started = Get-Date
    Add-Content -Path $log -Encoding ASCII -Value "$(Get-Date -Format s) run-native-worker: starting the gateway"
    # cmd's redirection appends the output as it is (PowerShell 5.1's would re-encode it as UTF-16).
    & cmd.exe /d /c "`"$cli`" gateway --host $ListenHost --port $GatewayPort >> `"$log`" 2>&1"
    $code = $LASTEXITCODE
    # A run that lasted a while was a crash, not a start-up problem: retry quickly again.
    if (((Get-Date) - $started).TotalMinutes -gt 10) { $delay = 10 }
    Add-Content -Path $log -Encoding ASCII -Value "$(Get-Date -Format s) run-native-worker: gateway exited with $code; restarting in $delay s"
    Start-Sleep -Seconds $delay
    $delay = [math]::Min($delay * 2, 300)
}
