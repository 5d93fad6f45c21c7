"""CPUs this process may use: the affinity, capped by the cgroup's CPU quota (v2, v1)."""

from __future__ import annotations

from pathlib import Path

from concdoctor import cores


def cgroup_v2(tmp_path: Path, path: str, limits: dict[str, str]) -> tuple[Path, Path]:
    root = tmp_path / "cgroup"
    for folder, line in limits.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        (root / folder / "cpu.max").write_text(line + "\n")
    membership = tmp_path / "self-cgroup"
    membership.write_text(f"0::{path}\n")
    return root, membership


def test_a_container_limited_to_two_cpus_on_a_big_host_counts_two(tmp_path: Path) -> None:
    root, membership = cgroup_v2(tmp_path, "/docker/abc", {"docker/abc": "200000 100000"})
    assert cores.cpu_count(affinity=64, root=root, membership=membership) == 2


def test_the_tightest_quota_on_the_path_counts(tmp_path: Path) -> None:
    root, membership = cgroup_v2(tmp_path, "/a/b", {"": "max 100000", "a": "150000 100000",
                                                    "a/b": "max 100000"})
    assert cores.cgroup_quota(root=root, membership=membership) == 1.5
    assert cores.cpu_count(affinity=8, root=root, membership=membership) == 2


def test_no_quota_leaves_the_affinity(tmp_path: Path) -> None:
    root, membership = cgroup_v2(tmp_path, "/", {"": "max 100000"})
    assert cores.cpu_count(affinity=3, root=root, membership=membership) == 3
    assert cores.cpu_count(affinity=3, root=tmp_path / "none",
                           membership=tmp_path / "missing") == 3


def test_an_affinity_below_the_quota_wins(tmp_path: Path) -> None:
    root, membership = cgroup_v2(tmp_path, "/x", {"x": "800000 100000"})
    assert cores.cpu_count(affinity=2, root=root, membership=membership) == 2


def test_cgroup_v1_quota(tmp_path: Path) -> None:
    folder = tmp_path / "cgroup" / "cpu,cpuacct" / "job"
    folder.mkdir(parents=True)
    (folder / "cpu.cfs_quota_us").write_text("50000\n")
    (folder / "cpu.cfs_period_us").write_text("100000\n")
    membership = tmp_path / "self-cgroup"
    membership.write_text("4:memory:/job\n3:cpu,cpuacct:/job\n")
    root = tmp_path / "cgroup"
    assert cores.cgroup_quota(root=root, membership=membership) == 0.5
    assert cores.cpu_count(affinity=16, root=root, membership=membership) == 1
    (folder / "cpu.cfs_quota_us").write_text("-1\n")
    assert cores.cgroup_quota(root=root, membership=membership) is None


def test_this_process() -> None:
    assert 1 <= cores.cpu_count() <= (len(__import__("os").sched_getaffinity(0)))
