"""The adversarial-example store: a save is a write to <key>.tmp.npz and a rename, so a process that dies
mid-save leaves at most a stale .tmp.npz, which the next Store on the folder removes; finished runs stay."""
import numpy as np

from edgeq.attacks.store import RunRecord, Store


def test_store_removes_stale_tmp_files(tmp_path):
    store = Store(tmp_path)
    run = RunRecord("pgd_linf@eps=0.1", np.zeros((2, 8, 8, 1), np.float32), "abc", {"eps": 0.1}, "complete")
    store.save(run)
    stale = store.path("square_linf[int8]").with_suffix(Store.TMP)
    stale.write_bytes(b"half a zip")                       # what a killed save leaves
    assert stale.is_file()
    reopened = Store(tmp_path)
    assert not stale.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [store.path(run.key).name]
    loaded = reopened.load(run.key, "abc", {"eps": 0.1})
    assert loaded.status == "complete" and loaded.done == 2
    assert reopened.load("square_linf[int8]", "abc", {}) is None
