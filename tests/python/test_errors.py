"""C++ exceptions arrive as Python builtins carrying the C++ message."""
import numpy as np
import pytest

import pianograd as pg


def test_shape_error_is_value_error():
    with pytest.raises(ValueError, match=r"matmul.*\[2,3\].*\[4,5\]|matmul"):
        pg.matmul(pg.zeros([2, 3]), pg.zeros([4, 5]))
    with pytest.raises(ValueError, match="broadcast"):
        pg.zeros([2, 3]) + pg.zeros([4])


def test_dtype_error_is_type_error():
    with pytest.raises(TypeError, match="exp"):
        pg.exp(pg.tensor([1, 2]))
    with pytest.raises(TypeError):
        pg.tensor([1, 2]).requires_grad_(True)


def test_index_error():
    with pytest.raises(IndexError, match="out of range"):
        pg.zeros([2, 2])[5]
    with pytest.raises(IndexError):
        pg.sum(pg.zeros([2, 2]), axis=3)


def test_value_errors():
    with pytest.raises(ValueError):
        pg.zeros([2, 2]).item()
    with pytest.raises(ValueError):
        pg.mse_loss(pg.zeros(2), pg.zeros(2), reduction="avg")
    with pytest.raises(ValueError):
        pg.zeros([-1])


def test_graph_and_device_errors_are_runtime_errors():
    y = pg.zeros([3], requires_grad=True) * 2
    with pytest.raises((RuntimeError, ValueError)):
        y.backward()  # not a scalar and no seed gradient
    with pytest.raises(RuntimeError):
        pg.zeros(2).to("cuda")


def test_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope"):
        pg.load_safetensors(tmp_path / "nope.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x05\x00\x00\x00\x00\x00\x00\x00{bad")
    with pytest.raises(OSError) as e:
        pg.load_safetensors(bad)
    assert not isinstance(e.value, FileNotFoundError)


def test_wrong_argument_types_are_type_errors():
    with pytest.raises(TypeError):
        pg.exp("x")
    with pytest.raises(TypeError):
        pg.zeros("abc")
    with pytest.raises(TypeError):
        pg.zeros([2]) + "a"
    with pytest.raises(TypeError):
        pg.zeros([2], dtype="complex64")
    assert pg.exp(np.zeros(2, dtype=np.float32)).tolist() == [1, 1]  # arrays convert implicitly
