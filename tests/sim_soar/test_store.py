"""The emulator's store index and the core's derived caches: fast, and never stale.

The emulator keeps an incident's children indexed and its registry caches fields and artifact types between writes;
these tests pin that a cache never hides a change and that the index follows every write, delete and
restart (SQLite)."""

from __future__ import annotations

from sim.soar.core import Soar
from sim.soar.store import Store


def _ids(docs: list[dict]) -> list[int]:
    return [d["id"] for d in docs]


def test_children_follow_put_move_and_delete():
    store = Store()
    store.put("artifact", 1, {"id": 1, "inc_id": 10})
    store.put("artifact", 3, {"id": 3, "inc_id": 10})
    store.put("artifact", 2, {"id": 2, "inc_id": 11})
    assert _ids(store.children("artifact", 10)) == [1, 3]
    store.put("artifact", 3, {"id": 3, "inc_id": 11})  # moved to another incident
    assert _ids(store.children("artifact", 10)) == [1]
    assert _ids(store.children("artifact", 11)) == [2, 3]
    assert store.delete("artifact", 2)
    assert _ids(store.children("artifact", 11)) == [3]
    assert store.children("note", 10) == []


def test_generation_changes_with_every_write_and_delete():
    store = Store()
    seen = {store.generation("field")}
    store.put("field", "incident/a", {"id": 1})
    seen.add(store.generation("field"))
    store.put("field", "incident/a", {"id": 1, "text": "changed"})
    seen.add(store.generation("field"))
    store.delete("field", "incident/a")
    seen.add(store.generation("field"))
    assert len(seen) == 4
    assert store.generation("artifact") == 0


def test_index_is_rebuilt_from_sqlite(tmp_path):
    path = str(tmp_path / "soar.db")
    store = Store(path)
    store.put("row", 5, {"id": 5, "inc_id": 7})
    store.put("row", 6, {"id": 6, "inc_id": 8})
    store.close()
    again = Store(path)
    assert _ids(again.children("row", 7)) == [5]
    assert _ids(again.children("row", 8)) == [6]
    again.close()


def _custom_field(name: str, field_id: int) -> dict:
    return {"id": field_id, "name": name, "text": name, "prefix": "properties", "input_type": "text",
            "_type": "incident", "required": None, "read_only": False, "values": [], "uuid": f"uuid-{name}"}


def test_a_field_added_after_a_render_is_seen_at_once():
    soar = Soar(Store())
    inc = soar.create_incident({"name": "x", "discovered_date": 1})
    assert "late_field" not in soar.get_incident(inc["id"])["properties"]
    soar.store.put("field", "incident/late_field", _custom_field("late_field", 1001))
    assert "late_field" in soar.get_incident(inc["id"])["properties"]
    assert soar.registry.incident_field("late_field")["name"] == "late_field"
    soar.store.delete("field", "incident/late_field")
    assert "late_field" not in soar.get_incident(inc["id"])["properties"]
    assert soar.registry.incident_field("late_field") is None


def test_cached_definitions_cannot_be_changed_through_what_callers_get():
    soar = Soar(Store())
    fields = soar.registry.incident_fields()
    fields[1]["text"] = "mutated"
    soar.registry.artifact_types()[0]["name"] = "mutated"
    assert soar.registry.incident_fields()[1]["text"] != "mutated"
    assert soar.registry.artifact_types()[0]["name"] != "mutated"


def test_an_imported_artifact_type_is_found_at_once():
    soar = Soar(Store())
    assert soar.registry.artifact_type("pp_tap_thing") is None
    assert soar.registry.artifact_type(["unhashable"]) is None
    soar.store.put("artifact_type", "pp_tap_thing", {"id": 1001, "name": "PP thing", "programmatic_name":
                                                     "pp_tap_thing", "enabled": True, "file": False})
    assert soar.registry.artifact_type("pp_tap_thing")["id"] == 1001
    assert soar.registry.artifact_type(1001)["name"] == "PP thing"
    assert soar.registry.artifact_type("IP Address")["name"] == "IP Address"
