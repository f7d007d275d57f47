"""The committed model_repository/ is exactly what scripts/gen_model_repository.py renders."""

import importlib.util
import json
from pathlib import Path

from tts_engine.config import default_parameters, parse_engine_config
from tts_engine.serving.server_info import read_model_config

ROOT = Path(__file__).resolve().parents[2]


def load_generator():
    spec = importlib.util.spec_from_file_location("gen", ROOT / "scripts" / "gen_model_repository.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_repository_is_generated_and_up_to_date():
    rendered = load_generator().render()
    for rel, content in rendered.items():
        assert (ROOT / "model_repository" / rel).read_text() == content, f"{rel} is stale: rerun the generator"
    repo = ROOT / "model_repository"
    on_disk = {str(p.relative_to(repo)) for p in repo.rglob("*") if p.name in ("config.pbtxt", "model.py")}
    assert on_disk <= set(rendered)


def test_every_tts_config_parses_into_an_engine_config():
    names = []
    for path in sorted((ROOT / "model_repository").glob("*_*_*/config.pbtxt")):
        model_config = read_model_config(path)
        cfg = parse_engine_config(model_config, env={})
        assert cfg.model_name == path.parent.name
        params = {k: v["string_value"] for k, v in json.loads(model_config)["parameters"].items()}
        assert default_parameters().items() <= params.items(), "every engine setting is written at its default"
        names.append(cfg.model_name)
    assert len(names) == 5
