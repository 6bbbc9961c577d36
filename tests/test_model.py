import torch

from mnist_cnn.model import ConvNet, for_inference

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


def test_the_inference_copy_computes_the_same_function_and_leaves_the_original():
    torch.manual_seed(0)
    model = ConvNet()
    model.train()
    for _ in range(3):  # running statistics that are not the identity, as after training
        model(torch.rand(16, 1, 28, 28))
    model.eval()
    state = {name: value.clone() for name, value in model.state_dict().items()}
    fast = for_inference(model)
    inputs = torch.rand(32, 1, 28, 28)
    with torch.no_grad():
        assert torch.allclose(fast(inputs), model(inputs), atol=1e-5)
    assert not any(isinstance(layer, torch.nn.BatchNorm2d) for layer in fast.modules())
    assert all(torch.equal(state[name], value) for name, value in model.state_dict().items())
