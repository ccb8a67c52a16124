"""The image readers on tiny files written in each official layout, and on every bad-data case."""
import json
import pickle

import numpy as np
import pytest
from train_layouts import write_cifar, write_image_folder, write_imagenet16

from nasframe.datasets import image_batch, load_dataset
from nasframe.errors import DataError


def _raw(folder, name):
    return pickle.loads((folder / name).read_bytes(), encoding="bytes")


def test_cifar10_valid_split_halves_the_training_set(tmp_path):
    folder = write_cifar(tmp_path, "cifar10", n=8)
    ds = load_dataset(tmp_path, "cifar10", split_seed=3)
    assert ds.num_classes == 10 and ds.shape == (3, 32, 32)
    assert len(ds.train[1]) == len(ds.val[1]) == 20 and len(ds.test[1]) == 8
    # the halves are a partition of the 40 training images, in file order
    everything = np.concatenate([_raw(folder, f"data_batch_{i}")[b"data"] for i in range(1, 6)])
    both = np.concatenate([ds.train[0], ds.val[0]]).reshape(40, -1)
    assert sorted(map(bytes, both)) == sorted(map(bytes, everything))
    first = _raw(folder, "test_batch")
    assert np.array_equal(ds.test[0][0].reshape(-1), first[b"data"][0]) and ds.test[1][0] == first[b"labels"][0]
    assert "seeded halves" in ds.split and "cifar10-valid" in ds.split
    assert load_dataset(tmp_path, "cifar10", split_seed=3).val[1].tolist() == ds.val[1].tolist()


def test_cifar_archive_as_downloaded_reads_like_the_folder(tmp_path):
    write_cifar(tmp_path / "a", "cifar100", n=6)
    write_cifar(tmp_path / "b", "cifar100", n=6, archive=True)
    a, b = load_dataset(tmp_path / "a", "cifar100"), load_dataset(tmp_path / "b", "cifar100")
    assert a.num_classes == 100 and len(a.train[1]) == 6 and len(a.val[1]) == 3 and len(a.test[1]) == 3
    for part in ("train", "val", "test"):
        assert np.array_equal(getattr(a, part)[0], getattr(b, part)[0])
    assert ".tar.gz" in b.source and "halves of the official test set" in b.split


def test_nb201_split_file_is_used_when_present(tmp_path):
    write_cifar(tmp_path, "cifar100", n=6)
    (tmp_path / "cifar100-test-split.txt").write_text(json.dumps({"xvalid": ["int", [1, 3, 4]],
                                                                   "xtest": ["int", [0, 2, 5]]}))
    ds = load_dataset(tmp_path, "cifar100")
    test = _raw(tmp_path / "cifar-100-python", "test")
    assert ds.val[1].tolist() == [test[b"fine_labels"][i] for i in (1, 3, 4)]
    assert "cifar100-test-split.txt" in ds.split
    (tmp_path / "cifar100-test-split.txt").write_text(json.dumps({"xvalid": ["int", [1, 3]],
                                                                   "xtest": ["int", [0, 2]]}))
    with pytest.raises(DataError, match="cifar100-test-split.txt"):
        load_dataset(tmp_path, "cifar100")


def test_imagenet16_keeps_nb201s_120_classes_zero_based(tmp_path):
    folder = write_imagenet16(tmp_path, n=20)
    ds = load_dataset(tmp_path, "imagenet16-120")
    raw = pickle.loads((folder / "train_data_batch_1").read_bytes(), encoding="latin1")
    kept = [i for i, v in enumerate(raw["labels"]) if v <= 120]
    assert ds.num_classes == 120 and ds.shape == (3, 16, 16)
    assert ds.train[1][:len(kept)].tolist() == [raw["labels"][i] - 1 for i in kept]
    assert np.array_equal(ds.train[0][0].reshape(-1), raw["data"][kept[0]])
    assert ds.train[1].min() == 0 and ds.train[1].max() <= 119
    assert len(ds.val[1]) + len(ds.test[1]) == sum(v <= 120 for v in
                                                    pickle.loads((folder / "val_data").read_bytes())["labels"])


def test_image_folder_with_and_without_val_and_test(tmp_path):
    write_image_folder(tmp_path / "toy", per_class=5, splits=("train", "test"))
    ds = load_dataset(tmp_path, "toy", split_seed=0, val_fraction=0.2)
    assert ds.num_classes == 3 and ds.shape == (3, 8, 8)
    assert len(ds.test[1]) == 15 and len(ds.val[1]) == 3 and len(ds.train[1]) == 12
    assert "test = test/" in ds.split and "val = a seeded 0.2 of train/" in ds.split
    from PIL import Image

    first = np.asarray(Image.open(tmp_path / "toy" / "test" / "a" / "0.png")).transpose(2, 0, 1)
    assert np.array_equal(ds.test[0][0], first) and ds.test[1][0] == 0
    write_image_folder(tmp_path / "only", per_class=5)
    only = load_dataset(tmp_path / "only", "only")  # data.root may be the dataset folder itself
    assert len(only.train[1]) + len(only.val[1]) + len(only.test[1]) == 15


@pytest.mark.parametrize("damage", ["missing", "corrupt", "shape", "labels"])
def test_bad_cifar_files_name_the_file(tmp_path, damage):
    folder = write_cifar(tmp_path, "cifar10", n=4)
    target = folder / "data_batch_3"
    if damage == "missing":
        target.unlink()
    elif damage == "corrupt":
        target.write_bytes(b"\x80\x04not a pickle")
    else:
        d = _raw(folder, "data_batch_3")
        if damage == "shape":
            d[b"data"] = d[b"data"][:, :100]
        else:
            d[b"labels"][0] = 10
        target.write_bytes(pickle.dumps(d))
    with pytest.raises(DataError, match="data_batch_3"):
        load_dataset(tmp_path, "cifar10")


def test_bad_imagenet16_and_folders_name_the_file(tmp_path):
    folder = write_imagenet16(tmp_path / "in", n=6)
    (folder / "val_data").write_bytes(b"garbage")
    with pytest.raises(DataError, match="val_data"):
        load_dataset(tmp_path / "in", "imagenet16-120")
    (folder / "train_data_batch_7").unlink()
    with pytest.raises(DataError, match="train_data_batch_7"):
        load_dataset(tmp_path / "in", "imagenet16-120")
    root = write_image_folder(tmp_path / "f" / "toy")
    (root / "train" / "empty").mkdir()
    with pytest.raises(DataError, match="empty"):
        load_dataset(tmp_path / "f", "toy")
    (root / "train" / "empty").rmdir()
    (root / "train" / "a" / "1.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="1.png"):
        load_dataset(tmp_path / "f", "toy")
    with pytest.raises(DataError, match="no cifar10 python batches"):
        load_dataset(tmp_path / "nothing", "cifar10")
    with pytest.raises(DataError, match="ImageFolder"):
        load_dataset(tmp_path / "nothing", "digits")


def test_proxy_batches_read_imagenet16_when_present(tmp_path):
    write_imagenet16(tmp_path, n=20)
    real = image_batch(tmp_path, "imagenet16-120", n=8, seed=1, shape=(3, 16, 16))
    assert not real.synthetic and "imagenet16-120 training images" in real.source
    assert real.x.shape == (8, 3, 16, 16) and int(real.y.max()) < 120
    fake = image_batch(tmp_path / "none", "imagenet16-120", n=8, seed=1, shape=(3, 16, 16))
    assert fake.synthetic and "no ImageNet16 files" in fake.source
