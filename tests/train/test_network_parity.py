"""The PyTorch PP-LCNet matches the shipped ONNX graph, and weights go back into it losslessly."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from support.pages import fixture_file, read_page, text_page  # noqa: E402

from pagefix.errors import ModelStoreError  # noqa: E402
from pagefix.evaluation.datasets import turn_content  # noqa: E402
from pagefix.models import ModelStore  # noqa: E402
from pagefix.train.network import PPLCNet  # noqa: E402
from pagefix.train.onnx_weights import load_onnx_weights, write_onnx_weights  # noqa: E402

# A real Chinese product sheet (tests/fixtures) and rendered pages of each layout.
REAL_PAGE = "paddle__doc_imgs_11.jpg"
LAYOUTS = ("text", "receipt", "table", "columns", "text")


@pytest.fixture(scope="module")
def torch_net(classifier):
    files = ModelStore().resolve("orientation")
    return load_onnx_weights(PPLCNet(), files.path).eval()


@pytest.fixture(scope="module")
def real_batch(classifier):
    pages = [read_page(fixture_file(REAL_PAGE))] + [text_page(seed, layout) for seed, layout in enumerate(LAYOUTS)]
    images = []
    for index, page in enumerate(pages):
        images.append(turn_content(page, (0, 90, 180, 270)[index % 4]))
    return np.stack([classifier.preprocess(image) for image in images])


def test_pytorch_forward_equals_onnx_runtime_on_real_pages(torch_net, classifier, real_batch):
    expected = classifier.probabilities(real_batch)
    with torch.no_grad():
        got = torch_net.probabilities(torch.from_numpy(real_batch)).numpy()
    assert np.abs(got - expected).max() < 1e-4
    assert (got.argmax(1) == expected.argmax(1)).all()


@pytest.mark.parametrize("layers", ["top", "head"])
def test_the_frozen_trunk_and_the_trained_rest_compose_to_the_whole_network(torch_net, real_batch, layers):
    batch = torch.from_numpy(real_batch)
    with torch.no_grad():
        whole = torch_net(batch)
        split = torch_net.forward_from_trunk(torch_net.trunk(batch, layers), layers)
    assert torch.allclose(whole, split, atol=1e-5)
    trained = {id(p) for p in torch_net.parameters_to_train(layers)}
    trunk_params = [p for name, p in torch_net.named_parameters()
                    if name.startswith("stem.") or (name.startswith("blocks.") and int(name.split(".")[1]) <
                                                    (11 if layers == "top" else 13))]
    assert trunk_params and not any(id(p) in trained for p in trunk_params)  # the cached part is never trained


def test_written_weights_are_what_onnx_runtime_runs(torch_net, classifier, real_batch, tmp_path):
    from pagefix.models import OrientationClassifier, RuntimeOptions
    from pagefix.models.store import ModelFiles

    changed = PPLCNet()
    changed.load_state_dict(torch_net.state_dict())
    with torch.no_grad():  # a different head and one BN layer, so the written file must differ
        changed.fc.weight.mul_(-1.5)
        changed.stem[1].running_mean.add_(0.3)
    changed.eval()
    target = tmp_path / "model.onnx"
    write_onnx_weights(changed, ModelStore().resolve("orientation").path, target)
    runner = OrientationClassifier.from_files(
        ModelFiles("t", "orientation", target, {}), RuntimeOptions(device="cpu", cpu_threads=1)
    )
    onnx_probs = runner.probabilities(real_batch)
    with torch.no_grad():
        torch_probs = changed.probabilities(torch.from_numpy(real_batch)).numpy()
    assert np.abs(onnx_probs - torch_probs).max() < 1e-4
    assert np.abs(onnx_probs - classifier.probabilities(real_batch)).max() > 0.1
    reloaded = load_onnx_weights(PPLCNet(), target)
    for name, value in changed.state_dict().items():
        assert torch.equal(value, reloaded.state_dict()[name]), name


def test_a_graph_of_another_network_is_refused():
    unwarping = ModelStore().resolve("unwarping").path
    with pytest.raises(ModelStoreError):
        load_onnx_weights(PPLCNet(), unwarping)
