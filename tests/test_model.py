import torch

from mnist_cnn.model import ConvNet

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
