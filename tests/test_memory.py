"""Memory facts: a worker's PSS/USS, the memory left under the cgroup limit (v2, v1) or
MemAvailable, a --memory-limit value, and how many workers fit."""

from __future__ import annotations

from pathlib import Path

import pytest

from concdoctor import memory

SMAPS_ROLLUP = """\
561824397000-7ffc2f8de000 ---p 00000000 00:00 0                          [rollup]
Rss:               18452 kB
Pss:                9876 kB
Pss_Dirty:          7010 kB
Pss_Anon:           6900 kB
Pss_File:           2976 kB
Pss_Shmem:             0 kB
Shared_Clean:       6120 kB
Shared_Dirty:       1024 kB
Private_Clean:      3300 kB
Private_Dirty:      8008 kB
Referenced:        18000 kB
Anonymous:          6900 kB
LazyFree:              0 kB
AnonHugePages:         0 kB
Swap:                  0 kB
SwapPss:               0 kB
Locked:                0 kB
"""

GiB = 1 << 30
MEMINFO = f"MemTotal:       {64 * GiB // 1024} kB\nMemAvailable:   {20 * GiB // 1024} kB\n"


def test_smaps_rollup_fields_in_bytes() -> None:
    fields = memory.parse_smaps_rollup(SMAPS_ROLLUP)
    assert fields["Pss"] == 9876 * 1024
    assert fields["Rss"] == 18452 * 1024
    assert fields["Private_Clean"] + fields["Private_Dirty"] == (3300 + 8008) * 1024
    assert "561824397000-7ffc2f8de000" not in fields and len(fields) == 17


def test_pss_and_uss_from_a_proc_tree(tmp_path: Path) -> None:
    (tmp_path / "42").mkdir()
    (tmp_path / "42" / "smaps_rollup").write_text(SMAPS_ROLLUP)
    assert memory.pss_bytes(42, proc=tmp_path) == 9876 * 1024
    assert memory.uss_bytes(42, proc=tmp_path) == (3300 + 8008) * 1024
    assert memory.pss_bytes(43, proc=tmp_path) is None  # gone, or not ours to read
    assert memory.uss_bytes(proc=tmp_path) is None  # no /proc/self here


@pytest.mark.skipif(not Path("/proc/self/smaps_rollup").exists(),
                    reason="no /proc/self/smaps_rollup (not Linux, or a kernel before 4.14)")
def test_this_process() -> None:
    pss, uss = memory.pss_bytes(), memory.uss_bytes()
    assert pss is not None and uss is not None
    assert 1 << 20 < pss < 1 << 40 and 0 < uss
    assert uss <= pss * 1.5  # both move a little between the two reads


def fake_system(tmp_path: Path, membership: str, files: dict[str, str],
                meminfo: str | None = None) -> dict[str, Path]:
    """A /proc and a /sys/fs/cgroup under tmp_path; ``files`` maps paths under the
    cgroup root to contents."""
    proc, cgroup = tmp_path / "proc", tmp_path / "cgroup"
    (proc / "self").mkdir(parents=True)
    (proc / "self" / "cgroup").write_text(membership)
    if meminfo is not None:
        (proc / "meminfo").write_text(meminfo)
    cgroup.mkdir()
    for name, text in files.items():
        (cgroup / name).parent.mkdir(parents=True, exist_ok=True)
        (cgroup / name).write_text(text + "\n")
    return {"proc": proc, "cgroup": cgroup}


def test_cgroup_v2_limit_less_what_the_cgroup_uses(tmp_path: Path) -> None:
    roots = fake_system(tmp_path, "0::/docker/abc\n",
                        {"docker/abc/memory.max": str(4 * GiB),
                         "docker/abc/memory.current": str(GiB)}, MEMINFO)
    assert memory.limit_bytes(**roots) == (3 * GiB, "the cgroup's memory.max")


def test_cgroup_v2_max_means_no_limit(tmp_path: Path) -> None:
    roots = fake_system(tmp_path, "0::/a\n", {"a/memory.max": "max",
                                               "a/memory.current": str(GiB)}, MEMINFO)
    assert memory.limit_bytes(**roots) == (20 * GiB, "MemAvailable")


def test_cgroup_v2_a_tighter_parent_wins(tmp_path: Path) -> None:
    roots = fake_system(tmp_path, "0::/a/b\n",
                        {"memory.current": str(30 * GiB),  # the root: no memory.max
                         "a/memory.max": str(2 * GiB), "a/memory.current": str(GiB // 2),
                         "a/b/memory.max": "max", "a/b/memory.current": str(GiB // 4)},
                        MEMINFO)
    assert memory.limit_bytes(**roots) == (3 * GiB // 2, "the cgroup's memory.max")


def test_cgroup_v2_parent_usage_counts_against_a_loose_child(tmp_path: Path) -> None:
    roots = fake_system(tmp_path, "0::/a/b\n",
                        {"a/memory.max": str(8 * GiB), "a/memory.current": str(7 * GiB),
                         "a/b/memory.max": str(4 * GiB), "a/b/memory.current": str(GiB)})
    assert memory.limit_bytes(**roots) == (GiB, "the cgroup's memory.max")


def test_cgroup_v1_when_v2_sets_no_limit(tmp_path: Path) -> None:
    membership = "4:memory:/job\n3:cpu,cpuacct:/job\n0::/\n"  # a hybrid host
    roots = fake_system(tmp_path, membership,
                        {"memory/job/memory.limit_in_bytes": str(2 * GiB),
                         "memory/job/memory.usage_in_bytes": str(GiB // 2),
                         "memory/memory.limit_in_bytes": "9223372036854771712"}, MEMINFO)
    assert memory.limit_bytes(**roots) == (3 * GiB // 2, "cgroup v1 memory.limit_in_bytes")


def test_cgroup_v1_unlimited_falls_back_to_memavailable(tmp_path: Path) -> None:
    roots = fake_system(tmp_path, "4:memory:/job\n",
                        {"memory/job/memory.limit_in_bytes": "9223372036854771712",
                         "memory/job/memory.usage_in_bytes": str(GiB)}, MEMINFO)
    assert memory.limit_bytes(**roots) == (20 * GiB, "MemAvailable")


def test_a_limit_above_what_the_host_has_free_gives_memavailable(tmp_path: Path) -> None:
    roots = fake_system(tmp_path, "0::/big\n", {"big/memory.max": str(64 * GiB)}, MEMINFO)
    assert memory.limit_bytes(**roots) == (20 * GiB, "MemAvailable")


def test_nothing_readable_gives_none(tmp_path: Path) -> None:
    assert memory.limit_bytes(proc=tmp_path / "no-proc", cgroup=tmp_path / "none") is None


def test_a_cgroup_over_its_limit_leaves_nothing(tmp_path: Path) -> None:
    roots = fake_system(tmp_path, "0::/a\n", {"a/memory.max": str(GiB),
                                               "a/memory.current": str(2 * GiB)})
    assert memory.limit_bytes(**roots) == (0, "the cgroup's memory.max")


@pytest.mark.parametrize(("text", "size"), [
    ("1048576", 1 << 20), ("512K", 512 << 10), ("512k", 512 << 10), ("64M", 64 << 20),
    ("2G", 2 * GiB), ("1.5G", 3 * GiB // 2), ("2GiB", 2 * GiB), ("2gb", 2 * GiB),
    ("3MiB", 3 << 20), ("1T", 1 << 40), ("1tib", 1 << 40), (" 2 G ", 2 * GiB),
    (".5K", 512), ("100b", 100), ("9223372036854775807", (1 << 63) - 1),
])
def test_parse_size(text: str, size: int) -> None:
    assert memory.parse_size(text) == size


@pytest.mark.parametrize("text", ["", "  ", "-1G", "0", "G", "2X", "2 GB B", "1e9", "2PB",
                                  "nan", "1,5G"])
def test_parse_size_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="not a memory size.*512M"):
        memory.parse_size(text)


def test_workers_within() -> None:
    assert memory.workers_within(8 * GiB, GiB) == 8
    assert memory.workers_within(8 * GiB, GiB, base=GiB) == 7
    assert memory.workers_within(8 * GiB, 3 * GiB) == 2  # a partial worker does not fit
    assert memory.workers_within(GiB, 4 * GiB) == 1  # a pool of one: the sequential run
    assert memory.workers_within(GiB, GiB // 2, base=2 * GiB) == 1
    assert memory.workers_within(0, 1) == 1
    with pytest.raises(ValueError):
        memory.workers_within(GiB, 0)
