"""`pagefix serve` wires its flags and the configuration file into the app it serves."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("fastapi")

from pagefix.cli.main import main  # noqa: E402


@pytest.fixture
def served(monkeypatch):  # type: ignore[no-untyped-def]
    """Run the command up to the point where it would serve, and keep what it would serve."""
    import pagefix.serving.server as server

    calls: list[tuple] = []
    monkeypatch.setattr(server, "serve", lambda app, host, port, log_level: calls.append((app, host, port)))
    return calls


def test_flags_and_config_file_reach_the_app(served, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "pipeline.yaml"
    config.write_text(
        "use_doc_orientation_classify: False\nuse_doc_unwarping: False\n"
        "Serving:\n  workers: 3\n  allowed_hosts: [files.internal]\n  extra:\n    max_num_input_imgs: 4\n"
    )
    code = main(["serve", "--config", str(config), "--port", "9", "--max_queue", "1", "--allow_host", "127.0.0.1"])
    assert code == 0
    ((app, host, port),) = served
    assert (host, port) == ("127.0.0.1", 9)
    settings = app.state.settings
    assert (settings.workers, settings.max_queue, settings.max_num_input_imgs) == (3, 1, 4)
    assert app.state.limits.allowed_hosts == ("files.internal", "127.0.0.1")
    assert app.state.limits.allow_private_urls is False
    assert app.state.limits.max_pdf_pages == 4


def test_config_given_twice_is_a_usage_error(served, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "pipeline.yaml"
    config.write_text("use_doc_unwarping: False\n")
    assert main(["serve", "--config", str(config), "--paddlex_config", str(config)]) == 2
    assert "--config or --paddlex_config" in capsys.readouterr().err
    assert not served


def test_bad_serving_section_is_reported_in_one_line(served, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "pipeline.yaml"
    config.write_text("Serving:\n  workerz: 2\n")
    assert main(["serve", "--config", str(config)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown key 'Serving.workerz'" in err[0] and "did you mean 'Serving.workers'" in err[0]
