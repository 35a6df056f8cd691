"""The Windows scripts, read as text (no PowerShell here): they do what docs/deploy.md promises."""

from __future__ import annotations

import re

from app.settings import Settings
from tests.deploy.files import DEPLOY, ROOT

WINDOWS = DEPLOY / "windows"
INSTALL = (WINDOWS / "install-native-worker.ps1").read_text()
RUN = (WINDOWS / "run-native-worker.ps1").read_text()
UNINSTALL = (WINDOWS / "uninstall-native-worker.ps1").read_text()


def test_installer_checks_python_and_installs_the_windows_requirements():
    assert "$MinPython = [version]'3.11'" in INSTALL
    assert "-m venv" in INSTALL
    assert "requirements\\windows.txt" in INSTALL
    assert (ROOT / "requirements" / "windows.txt").is_file()


def test_installer_writes_only_real_settings_into_the_gateways_env():
    block = re.search(r"\$envFile = .*?\n@\((.*?)\n\) \| Set-Content", INSTALL, re.S).group(1)
    names = set(re.findall(r"^\s*[\"']([A-Z][A-Z0-9_]*)=", block, re.M))
    assert names <= set(Settings.model_fields), names - set(Settings.model_fields)
    assert {"DATABASE_URL", "BACNET_ADDRESS", "GATEWAY_SECRET", "GATEWAY_URL", "BACNET_TRANSPORT"} <= names
    # The secret is the compose .env's, so both sides hold the same one.
    assert "GATEWAY_SECRET=$($compose['GATEWAY_SECRET'])" in block


def test_firewall_opens_the_gateway_port_to_the_docker_subnet_only():
    rule = re.search(r"New-NetFirewallRule .*?TCP.*?\| Out-Null", INSTALL, re.S).group(0)
    assert "-LocalPort $GatewayPort" in rule and "-RemoteAddress $DockerSubnet" in rule
    assert "$GatewayPort = 5001" in INSTALL
    compose = (WINDOWS / "docker-compose.yml").read_text()
    assert "GATEWAY_URL: http://host.docker.internal:5001" in compose
    assert "$GatewayPort = 5001" in RUN


def test_gateway_starts_at_boot_and_restarts_on_failure():
    assert "New-ScheduledTaskTrigger -AtStartup" in INSTALL
    assert "-RestartCount" in INSTALL and "-RestartInterval" in INSTALL
    assert "-ExecutionTimeLimit ([TimeSpan]::Zero)" in INSTALL
    assert "-Supervise" in INSTALL
    # The supervisor loop restarts the gateway whenever it exits.
    assert re.search(r"while \(\$true\) \{.*gateway --host \$ListenHost --port \$GatewayPort.*Start-Sleep", RUN, re.S)


def test_uninstaller_removes_the_task_and_the_firewall_rules():
    assert "Unregister-ScheduledTask -TaskName $TaskName" in UNINSTALL
    assert "Get-NetFirewallRule -Group $FirewallGroup" in UNINSTALL
    assert "$TaskName = 'bacnet-pipeline-gateway'" in UNINSTALL and "$TaskName = 'bacnet-pipeline-gateway'" in INSTALL
    assert "Stop-Process -Id" in UNINSTALL


def test_scripts_name_only_commands_the_cli_has():
    from tests.deploy.files import resolve_command

    for text in (INSTALL, RUN):
        for line in re.findall(r"& \$cli ([a-z][^\r\n]*)", text):
            argv = ["bacnet-pipeline", *line.replace("$ListenHost", "0.0.0.0").replace("$GatewayPort", "5001").split()]
            resolve_command(argv)
    assert "doctor --mode gateway" in RUN
