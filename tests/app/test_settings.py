import pytest

from app.settings import ConfigError, load_settings, parse_bind_address


def test_defaults_are_the_embedded_mode(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no .env here
    settings = load_settings()
    assert settings.DATABASE_URL == "" and settings.BROKER_URL == ""
    assert settings.resolved_transport() == "local"
    assert settings.bind_address is None


@pytest.mark.parametrize("name, value, fragment", [
    ("BACNET_ADDRESS", "192.0.2.10", "BACNET_ADDRESS: '192.0.2.10' has no network prefix"),
    ("BACNET_ADDRESS", "192.0.2.10/255.255.255.0", "BACNET_ADDRESS: prefix '255.255.255.0' must be a number"),
    ("BACNET_ADDRESS", "hvac-nic/24", "BACNET_ADDRESS: 'hvac-nic' is not an IPv4 address"),
    ("BACNET_ADDRESS", "127.0.0.1/8:99999", "BACNET_ADDRESS: port '99999'"),
    ("BACNET_TRANSPORT", "carrier-pigeon", "BACNET_TRANSPORT: Input should be 'auto', 'local', 'redis' or 'http'"),
    ("BROKER_URL", "amqp://localhost", "BROKER_URL: must be a redis://"),
    ("DATABASE_URL", "mysql://x", "DATABASE_URL: must be a sqlite:// or postgresql:// URL"),
    ("WORKER_THREADS", "0", "WORKER_THREADS: Input should be greater than or equal to 1"),
    ("BACNET_REQUEST_TIMEOUT", "soon", "BACNET_REQUEST_TIMEOUT: Input should be a valid number"),
])
def test_bad_values_give_one_line_naming_the_setting(monkeypatch, tmp_path, name, value, fragment):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith(fragment)
    assert "\n" not in message


def test_secrets_are_never_echoed(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GATEWAY_SECRET", "short-but-secret")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "GATEWAY_SECRET: must be at least 32 characters long" == str(caught.value)
    assert "short-but-secret" not in str(caught.value)


def test_dotenv_is_read(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("BACNET_ADDRESS=127.0.0.1/8:47809\nBROKER_URL=redis://127.0.0.1:6379/0\n")
    settings = load_settings()
    assert str(settings.require_bind_address()) == "127.0.0.1/8:47809"
    assert settings.resolved_transport() == "redis"


def test_missing_bind_address_is_explained(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="BACNET_ADDRESS is not set"):
        load_settings().require_bind_address()


def test_auto_transport_follows_the_original_design(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BROKER_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.delenv("DOCKER_ENV", raising=False)
    monkeypatch.setattr("platform.system", lambda: "Windows")
    assert load_settings().resolved_transport() == "http"
    monkeypatch.setenv("DOCKER_ENV", "1")
    assert load_settings().resolved_transport() == "redis"
    monkeypatch.setenv("BACNET_TRANSPORT", "local")
    assert load_settings().resolved_transport() == "local"


def test_bind_address_parts():
    bind = parse_bind_address("198.51.100.3/16")
    assert (bind.host, bind.prefix, bind.port, bind.broadcast) == ("198.51.100.3", 16, 47808, "198.51.255.255")
