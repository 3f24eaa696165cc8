"""The event catalogue as integrators read it: docs/asyncapi.yaml parses, every message points
at its own schema in docs/events, every schema there is in the catalogue, and every channel
and operation names messages that exist."""
import json
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _catalogue() -> dict:
    return yaml.safe_load((DOCS / "asyncapi.yaml").read_text(encoding="utf-8"))


def test_every_message_has_its_own_schema_and_every_schema_a_message():
    messages = _catalogue()["components"]["messages"]
    for key, message in messages.items():
        assert message["payload"]["schema"]["$ref"] == f"./events/{message['name']}.v1.json", key
    schemas = {path.name for path in (DOCS / "events").glob("*.json")}
    assert schemas == {f"{m['name']}.v1.json" for m in messages.values()}


def test_channels_and_operations_name_messages_that_exist():
    catalogue = _catalogue()
    messages = catalogue["components"]["messages"]
    for name, channel in catalogue["channels"].items():
        for ref in channel["messages"].values():
            assert ref["$ref"].split("/")[-1] in messages, (name, ref)
    for name, operation in catalogue["operations"].items():
        channel = operation["channel"]["$ref"].split("/")[-1]
        for ref in operation["messages"]:
            assert ref["$ref"].split("/")[-1] in catalogue["channels"][channel]["messages"], name
        routing_key = operation["bindings"]["amqp"]["cc"][0]
        key = operation["messages"][0]["$ref"].split("/")[-1]
        assert messages[key]["name"] == routing_key, name


def test_every_schema_is_a_valid_json_schema_for_its_type():
    for path in (DOCS / "events").glob("*.json"):
        schema = json.loads(path.read_text(encoding="utf-8"))
        Draft202012Validator.check_schema(schema)
        assert schema["properties"]["type"]["const"] == path.name.removesuffix(".v1.json")
