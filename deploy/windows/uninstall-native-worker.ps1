<#
.SYNOPSIS
    Removes what install-native-worker.ps1 set up: the scheduled task, the firewall rules, the
    virtualenv and (unless -KeepData) the gateway's .env, logs and instance folder.

.DESCRIPTION
    The database lives in the Docker PostgreSQL and is not touched; `docker compose down -v` in
    deploy\windows removes it.
#>
[CmdletBinding()]
param(
    [string] $InstallDir = (Join-Path $env:ProgramData 'bacnet-pipeline'),
    # Keep .env (with the secret) and the logs.
    [switch] $KeepData
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0

$TaskName = 'bacnet-pipeline-gateway'
$FirewallGroup = 'bacnet-pipeline'

$principal = New-Object Security.Principal.WindowsPrincipal([Security.Principal.WindowsIdentity]::GetCurrent())
if (-not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {
    throw 'Run this script as Administrator.'
}

if (Get-ScheduledTask -TaskName $TaskName -ErrorAction SilentlyContinue) {
    Stop-ScheduledTask -TaskName $TaskName -ErrorAction SilentlyContinue
    Unregister-ScheduledTask -TaskName $TaskName -Confirm:$false
    Write-Host "Removed scheduled task $TaskName"
}
# Stopping the task can leave its children running: end every process started from $InstallDir.
Get-CimInstance Win32_Process |
    Where-Object { $_.ProcessId -ne $PID -and $_.CommandLine -and $_.CommandLine.Contains($InstallDir) } |
    ForEach-Object {
        Write-Host "Stopping $($_.Name) (pid $($_.ProcessId))"
        Stop-Process -Id $_.ProcessId -Force -ErrorAction SilentlyContinue
    }

$rules = @(Get-NetFirewallRule -Group $FirewallGroup -ErrorAction SilentlyContinue)
if ($rules.Count -gt 0) {
    $rules | Remove-NetFirewallRule
    Write-Host "Removed $($rules.Count) firewall rule(s)"
}

if (Test-Path $InstallDir) {
    if ($KeepData) {
        foreach ($name in 'venv', 'run-native-worker.ps1') {
            $path = Join-Path $InstallDir $name
            if (Test-Path $path) { Remove-Item -Recurse -Force $path }
        }
        Write-Host "Removed the virtualenv; kept .env and logs in $InstallDir"
    } else {
        Remove-Item -Recurse -Force $InstallDir
        Write-Host "Removed $InstallDir"
    }
}
