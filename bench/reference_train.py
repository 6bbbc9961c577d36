"""The baseline: MNIST trained the way the reference blog post does it.

Per-sample torchvision DataLoader with ToTensor, batch 100, constant Adam 1e-3, 5 epochs, then one
pass over the test set. Same ConvNet. Used only by bench_train.py, as the thing to beat.
"""

import argparse
import time

import torch
import torch.nn.functional as F
import torchvision
from torch.utils.data import DataLoader
from torchvision import transforms

from mnist_cnn.networks.convnet import ConvNet


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    started = time.perf_counter()
    torch.manual_seed(0)
    to_tensor = transforms.ToTensor()
    train_set = torchvision.datasets.MNIST(args.data_dir, train=True, transform=to_tensor)
    test_set = torchvision.datasets.MNIST(args.data_dir, train=False, transform=to_tensor)
    train_loader = DataLoader(train_set, batch_size=100, shuffle=True)
    test_loader = DataLoader(test_set, batch_size=100, shuffle=False)
    model = ConvNet()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for epoch in range(args.epochs):
        model.train()
        for step, (images, labels) in enumerate(train_loader, start=1):
            loss = F.cross_entropy(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if step % 100 == 0:
                print(f"Epoch [{epoch + 1}/{args.epochs}], Step [{step}/{len(train_loader)}], "
                      f"Loss: {loss.item():.4f}", flush=True)
    model.eval()
    correct = 0
    with torch.no_grad():
        for images, labels in test_loader:
            correct += (model(images).argmax(1) == labels).sum().item()
    accuracy = 100 * correct / len(test_set)
    print(f"Test accuracy on the {len(test_set)} test images: {accuracy:.2f} %")
    print(f"in-process seconds: {time.perf_counter() - started:.1f}")


if __name__ == "__main__":
    main()
