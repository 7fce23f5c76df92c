"""singer-sdk's standard target tests, run against the emulator, each extended (target-snowflake's habit)
with a check of what actually landed in Zoho (the `Landed...` classes). Four cannot land anything and
keep the SDK's own check: `TargetCliPrintsTest` (`--about` and `--help`, no run), and
`TargetInvalidSchemaTest`, `TargetRecordBeforeSchemaTest`, `TargetRecordMissingKeyProperty`, whose runs
stop on bad input (the SDK asserts the error).

The SDK's test streams (`test_array_data`, `TestCamelcase`, ...) are not Zoho modules: the config routes
every stream with the catch-all `streams."*"` entry to the custom module `Vehicles`, whose `Name` is fed
by the streams' `id`, its unique text field `VIN` by `metric`, and its External ID field by the text
properties, so the extended tests can read back what Zoho stored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from singer_sdk.testing import TargetTestRunner, get_target_test_class
from singer_sdk.testing.suites import SingerTestSuite
from singer_sdk.testing.target_tests import (
    TargetArrayData,
    TargetCamelcaseComplexSchema,
    TargetCamelcaseTest,
    TargetCliPrintsTest,
    TargetDuplicateRecords,
    TargetEncodedStringData,
    TargetInvalidSchemaTest,
    TargetNoPrimaryKeys,
    TargetOptionalAttributes,
    TargetPrimaryKeyUpdates,
    TargetRecordBeforeSchemaTest,
    TargetRecordMissingKeyProperty,
    TargetRecordMissingOptionalFields,
    TargetSchemaNoProperties,
    TargetSchemaUpdates,
    TargetSpecialCharsInAttributes,
)

from target_zoho_crm.target import TargetZohoCRM
from tests.target.singer_io import read_rejects
from zoho_crm_emulator import ZohoEmulator

CATCH_ALL = {
    "module": "Vehicles",
    "field_map": {
        "id": "Name",
        "Id": "Name",
        "_id": "Name",
        "metric": "VIN",
        "clientName": "VIN",
        "info": "External_Vehicle_ID",
        "optional": "External_Vehicle_ID",
        "a2": "External_Vehicle_ID",
        "fruits": "Features",
    },
}


def standard_config(zoho: ZohoEmulator, rejects_path: str) -> dict[str, Any]:
    return {
        "client_id": "1000.EMULATOR0CLIENT0ID",
        "client_secret": "emulator-client-secret",
        "refresh_token": "1000.emulator.refresh.token",
        "accounts_url": zoho.url,
        "api_url": zoho.url,
        "upload_url": zoho.url,
        "streams": {"*": CATCH_ALL},
        "rejects_path": rejects_path,
    }


def names(zoho: ZohoEmulator) -> dict[str, dict[str, Any]]:
    return {str(r["Name"]): r for r in zoho.records("Vehicles")}


class LandedArrayData(TargetArrayData):
    def validate(self) -> None:
        rows = names(self.resource)
        assert sorted(rows) == ["1", "2", "3", "4"]
        assert sorted(rows["4"]["Features"]) == ["apple", "banana", "orange", "pear"]


class LandedDuplicateRecords(TargetDuplicateRecords):
    def validate(self) -> None:
        rows = names(self.resource)
        assert set(rows) == {"1", "2"}  # one Zoho record per key
        assert rows["1"]["VIN"] == "100" and rows["2"]["VIN"] == "20"  # the last value wins


class LandedEncodedStrings(TargetEncodedStringData):
    def validate(self) -> None:
        # test_strings and test_strings_in_objects write the same keys of one module from two streams.
        # Singer orders records within a stream only, and the two streams' writes run side by side, so
        # either stream's value may be the last one Zoho holds for a key: each key must hold one of the
        # two, non-ASCII kept as is, the object as compact JSON text.
        by_name = {str(r["Name"]): r.get("External_Vehicle_ID") for r in self.resource.records("Vehicles")}
        expected = {
            "2": ("απλή συμβολοσειρά", '{"name":"greek","value":"απλή συμβολοσειρά"}'),
            "3": ("简单的字串", '{"name":"chinese","value":"简单的字串"}'),
            "4": ("chaîne simple", '{"name":"french","value":"chaîne simple"}'),
            "5": ('quoted "string"', '{"name":"quoted string","value":"quoted \\"string\\""}'),
        }
        for name, forms in expected.items():
            assert by_name.get(name) in forms, (name, by_name.get(name))


class LandedNoPrimaryKeys(TargetNoPrimaryKeys):
    def validate(self) -> None:
        assert sorted(names(self.resource)) == ["1", "2", "3"]


class LandedOptionalAttributes(TargetOptionalAttributes):
    def validate(self) -> None:
        rows = names(self.resource)
        assert rows["1"]["External_Vehicle_ID"] == "This is optional"
        assert not rows["2"].get("External_Vehicle_ID")


class LandedCamelcase(TargetCamelcaseTest):
    def validate(self) -> None:
        assert names(self.resource)["2"]["VIN"] == "Gitter iOS App"


class LandedSchemaUpdates(TargetSchemaUpdates):
    def validate(self) -> None:
        assert len(self.resource.records("Vehicles")) == 6


class LandedCamelcaseComplexSchema(TargetCamelcaseComplexSchema):
    """Two SCHEMA messages and no record: the module is resolved and mapped, nothing is written."""

    def validate(self) -> None:
        assert self.resource.records("Vehicles") == []
        assert not [c for c in self.resource.calls if c["path"].endswith("/Vehicles")]  # no write call


class LandedPrimaryKeyUpdates(TargetPrimaryKeyUpdates):
    def validate(self) -> None:
        rows = names(self.resource)
        assert sorted(rows) == ["1", "2"]  # one record under each SCHEMA, the key change loses none
        assert rows["1"]["Email"] == "alice@example.com" and rows["2"]["Email"] == "bob@example.com"


class LandedRecordMissingOptionalFields(TargetRecordMissingOptionalFields):
    def validate(self) -> None:
        rows = names(self.resource)
        assert rows["1"]["External_Vehicle_ID"] == "now you see me"
        assert "External_Vehicle_ID" not in rows["2"]  # a missing property is not sent as an empty value


class LandedSchemaNoProperties(TargetSchemaNoProperties):
    """Records whose only property is an object no Vehicles field takes: no mapped value, so Zoho's
    mandatory `Name` is missing and each record goes to the rejects file; nothing lands."""

    def validate(self) -> None:
        assert self.resource.records("Vehicles") == []
        rejected = read_rejects(Path(self.runner.config["rejects_path"]))
        assert len(rejected) == 4 and {r["code"] for r in rejected} == {"MANDATORY_NOT_FOUND"}, rejected


class LandedSpecialCharsInAttributes(TargetSpecialCharsInAttributes):
    def validate(self) -> None:
        assert sorted(names(self.resource)) == ["a2e98886"]  # a stream name full of special characters


TESTS = [
    LandedArrayData,
    LandedCamelcaseComplexSchema,
    LandedCamelcase,
    TargetCliPrintsTest,
    LandedDuplicateRecords,
    LandedEncodedStrings,
    TargetInvalidSchemaTest,
    LandedNoPrimaryKeys,
    LandedOptionalAttributes,
    LandedPrimaryKeyUpdates,
    TargetRecordBeforeSchemaTest,
    TargetRecordMissingKeyProperty,
    LandedRecordMissingOptionalFields,
    LandedSchemaNoProperties,
    LandedSchemaUpdates,
    LandedSpecialCharsInAttributes,
]

_StandardTargetTests = get_target_test_class(
    TargetZohoCRM,
    config={"client_id": "x", "client_secret": "x", "refresh_token": "x"},
    custom_suites=[SingerTestSuite(kind="target", tests=TESTS)],
    include_target_tests=False,
    parse_env_config=False,
)


class TestStandardTargetSuite(_StandardTargetTests):  # type: ignore[misc, valid-type]
    """The SDK's standard suite (all 16 default tests), each checked against what Zoho stored."""

    @pytest.fixture
    def resource(self, zoho: ZohoEmulator) -> Any:
        zoho.reset()
        yield zoho

    @pytest.fixture
    def runner(self, zoho: ZohoEmulator, tmp_path: Any) -> TargetTestRunner:
        return TargetTestRunner(
            TargetZohoCRM,
            config=standard_config(zoho, str(tmp_path / "rejects.jsonl")),
            parse_env_config=False,
        )
