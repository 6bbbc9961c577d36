"""The networks: the reference ConvNet's exact shapes, and the faster copy reading runs of each."""

import pytest
import torch

from mnist_cnn.networks import registry
from mnist_cnn.networks.blocks import for_inference
from mnist_cnn.networks.convnet import ConvNet
from mnist_cnn.networks.pairs import HEIGHT, WIDTH, PairReader
from mnist_cnn.networks.verifier import CONTEXT, GEOMETRY, SegmentVerifier

REFERENCE_SHAPES = {
    "layer1.0.weight": (6, 1, 5, 5), "layer1.0.bias": (6,),
    "layer1.1.weight": (6,), "layer1.1.bias": (6,), "layer1.1.running_mean": (6,),
    "layer1.1.running_var": (6,), "layer1.1.num_batches_tracked": (),
    "layer2.0.weight": (16, 6, 5, 5), "layer2.0.bias": (16,),
    "layer2.1.weight": (16,), "layer2.1.bias": (16,), "layer2.1.running_mean": (16,),
    "layer2.1.running_var": (16,), "layer2.1.num_batches_tracked": (),
    "fc.weight": (10, 784), "fc.bias": (10,),
}


def test_state_dict_matches_the_reference_exactly():
    state = ConvNet().state_dict()
    assert {name: tuple(t.shape) for name, t in state.items()} == REFERENCE_SHAPES


def test_forward_gives_ten_logits_per_image():
    assert ConvNet()(torch.zeros(3, 1, 28, 28)).shape == (3, 10)


def _inputs(network: torch.nn.Module, count: int) -> tuple[torch.Tensor, ...]:
    if isinstance(network, SegmentVerifier):
        return torch.rand(count, 2, CONTEXT, CONTEXT), torch.rand(count, GEOMETRY)
    if isinstance(network, PairReader):
        return (torch.rand(count, 1, HEIGHT, WIDTH),)
    return (torch.rand(count, 1, 28, 28),)


@pytest.mark.parametrize("part", registry.PARTS, ids=lambda part: part.name)
def test_the_inference_copy_computes_the_same_function_and_leaves_the_original(part):
    torch.manual_seed(0)
    network = part.network()
    network.train()
    for _ in range(3):  # running statistics that are not the identity, as after training
        network(*_inputs(network, 16))
    network.eval()
    state = {name: value.clone() for name, value in network.state_dict().items()}
    fast = for_inference(network)
    inputs = _inputs(network, 32)
    with torch.no_grad():
        expected = network(*inputs)
        assert torch.allclose(fast(*inputs), expected, atol=1e-5)
        assert expected.std() > 1e-3  # a function of the inputs, not a constant
    assert not any(isinstance(layer, torch.nn.BatchNorm2d) for layer in fast.modules())
    assert sum(isinstance(layer, torch.nn.Conv2d) for layer in fast.modules()) == sum(
        isinstance(layer, torch.nn.Conv2d) for layer in network.modules())
    assert all(torch.equal(state[name], value) for name, value in network.state_dict().items())
