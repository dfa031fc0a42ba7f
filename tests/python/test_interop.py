"""NumPy and DLPack interop: zero-copy proven by mutating one side and reading the other."""
import gc
import weakref

import numpy as np
import pytest

import pianograd as pg


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64])
def test_numpy_to_tensor_shares_memory(dtype):
    a = np.arange(12, dtype=dtype).reshape(3, 4)
    t = pg.tensor(a)
    assert t.dtype == pg.as_dtype(dtype)
    a[1, 2] = 99
    assert t[1, 2].item() == 99
    t.numpy()[0, 0] = -5
    assert a[0, 0] == -5


def test_tensor_to_numpy_shares_memory():
    t = pg.zeros([2, 3])
    a = np.asarray(t)
    b = t.numpy()
    memoryview(t)[0, 1] = 4.0  # buffer protocol, writable
    assert a.base is not None and a[0, 1] == 4.0 and b[0, 1] == 4.0
    a[1, 1] = 7.0
    assert t.tolist()[1][1] == 7.0
    assert np.shares_memory(a, b)


def test_numpy_array_kept_alive_by_tensor():
    a = np.ones(1000, dtype=np.float32)
    ref = weakref.ref(a) if hasattr(a, "__weakref__") else None
    t = pg.tensor(a)
    del a
    gc.collect()
    assert t.numpy().sum() == 1000
    if ref is not None:
        assert ref() is not None  # still referenced through the tensor's storage
    del t
    gc.collect()


def test_tensor_kept_alive_by_numpy_view():
    a = pg.ones([100]).numpy()
    gc.collect()
    assert a.sum() == 100  # the view's base keeps the tensor's storage alive


def test_non_contiguous_and_odd_dtypes_copy():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)[:, ::2]
    t = pg.tensor(a)
    np.testing.assert_array_equal(t.numpy(), a)
    a[0, 0] = 42
    assert t[0, 0].item() == 0  # a copy: the view was not row-major
    assert pg.tensor(np.arange(3, dtype=np.uint8)).dtype == pg.int64
    assert pg.tensor(np.ones(3, dtype=np.float16)).dtype == pg.float32
    ro = np.ones(3, dtype=np.float32)
    ro.setflags(write=False)
    assert pg.tensor(ro).numpy().flags.writeable
    with pytest.raises(TypeError):
        pg.tensor(np.ones(2, dtype=np.complex64))
    with pytest.raises(TypeError):
        pg.tensor(np.array(["a"]))


def test_empty_and_scalar_tensors():
    assert np.asarray(pg.zeros([0, 4])).shape == (0, 4)
    assert pg.tensor(np.zeros((0, 2))).shape == (0, 2)
    s = pg.scalar(2.0)
    assert np.asarray(s).shape == () and float(np.asarray(s)) == 2.0


def test_numpy_ops_on_tensors():
    t = pg.tensor([1.0, 4.0, 9.0])
    np.testing.assert_allclose(np.sqrt(t), [1, 2, 3])  # ufuncs see the buffer
    assert isinstance(np.ones(3, dtype=np.float32) + t, pg.Tensor)  # NumPy defers to Tensor.__radd__


def test_dlpack_tensor_to_numpy_zero_copy():
    t = pg.arange(6, dtype=pg.float64).reshape(2, 3)
    assert t.__dlpack_device__() == (1, 0)
    a = np.from_dlpack(t)
    assert a.shape == (2, 3) and a.dtype == np.float64
    a[0, 0] = 10
    assert t[0, 0].item() == 10
    del t
    gc.collect()
    assert a.sum() == 10 + 1 + 2 + 3 + 4 + 5  # the capsule's owner keeps the storage alive


def test_dlpack_numpy_to_tensor_zero_copy():
    a = np.arange(8, dtype=np.int32).reshape(2, 4)
    t = pg.from_dlpack(a)
    assert t.shape == (2, 4) and t.dtype == pg.int32
    a[1, 3] = -1
    assert t[1, 3].item() == -1
    del a
    gc.collect()
    assert t.numpy().sum() == sum(range(7)) - 1


def test_dlpack_round_trip_and_strided_copy():
    a = np.random.rand(3, 5)
    back = np.from_dlpack(pg.from_dlpack(a))
    assert np.shares_memory(a, back)
    s = a[:, ::2]
    t = pg.from_dlpack(s)
    np.testing.assert_array_equal(t.numpy(), s)  # strided source: copied into row-major
    cap = pg.tensor([1.0]).__dlpack__()
    assert pg.from_dlpack(cap).item() == 1.0
    with pytest.raises(ValueError):
        pg.from_dlpack(cap)  # a capsule is consumed once
    c = pg.tensor([1.0, 2.0])
    cp = np.from_dlpack(pg.from_dlpack(c.__dlpack__(copy=True)))
    cp[0] = 5
    assert c[0].item() == 1.0
    with pytest.raises(TypeError):
        pg.from_dlpack(42)
    with pytest.raises(TypeError):
        pg.from_dlpack(np.ones(2, dtype=np.complex128))
