"""The Spark engine's own promises: one SparkContext per process, lazy pyspark, clear start errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from costcouncil.engine import spark as spark_module
from costcouncil.engine.base import Engine
from costcouncil.errors import EngineError


@pytest.mark.spark
def test_engines_share_one_context_but_not_their_views(spark_engine: Engine) -> None:
    other = spark_module.SparkEngine()
    try:
        assert other.spark.sparkContext is spark_module._ROOT[0].sparkContext
        spark_engine.create("only_mine", "SELECT 1 AS x")
        with pytest.raises(EngineError, match="only_mine"):
            other.fetch("SELECT * FROM only_mine")
        assert other.spark.conf.get("spark.sql.session.timeZone") == "UTC"
    finally:
        other.close()


def test_missing_java_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spark_module, "_ROOT", [])
    monkeypatch.setattr(spark_module, "java_version", lambda: 11)
    with pytest.raises(EngineError, match=r"Java 11\).*scripts/java\.sh"):
        spark_module.SparkEngine()


def test_missing_pyspark_says_which_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spark_module, "_ROOT", [])
    monkeypatch.setattr(spark_module, "java_version", lambda: 17)
    monkeypatch.setitem(sys.modules, "pyspark.logger", None)  # makes the import fail
    with pytest.raises(EngineError, match=r"pip install 'costcouncil\[spark\]'"):
        spark_module.SparkEngine()


def test_pyspark_is_imported_only_when_a_spark_engine_is_made() -> None:
    code = (
        "import sys, costcouncil.engine.spark, costcouncil.engine.duckdb; "
        "sys.exit('pyspark' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


@pytest.mark.parametrize(
    "text,major",
    [
        ('openjdk version "17.0.15" 2025-04-15', 17),
        ('java version "1.8.0_402"', 8),
        ('openjdk version "21" 2023', 21),
        ("", None),
    ],
)
def test_java_versions_are_read_from_java_version_output(text: str, major: int | None) -> None:
    assert spark_module.parse_java_version(text) == major


@pytest.mark.parametrize(
    "master,partitions",
    [("local", "1"), ("local[3]", "3"), ("local[4, 2]", "4"), ("spark://host:7077", None)],
)
def test_local_masters_shuffle_into_one_partition_per_core(
    master: str, partitions: str | None
) -> None:
    conf = spark_module._shuffle_conf(master)
    assert conf.get("spark.sql.shuffle.partitions") == partitions
