"""Backbones with early exits: descriptions, networks, training (spec §2).

:mod:`~sparq_gym.backbones.spec` holds one :class:`BackboneSpec` per backbone
(MLP-5 and LeNet-5 on MNIST, AlexNet on CIFAR-10); :mod:`~sparq_gym.backbones.model`
builds the ANN / dynamic ANN from it; :mod:`~sparq_gym.backbones.train` trains
the conversion-ready network and :mod:`~sparq_gym.backbones.quantize` fine-tunes it
for INT8, both with the loop of :mod:`~sparq_gym.backbones.loop`;
:mod:`~sparq_gym.backbones.spiking` converts it to the spiking network;
:mod:`~sparq_gym.cli.backbones` adds
``sparq backbone stats|train``. Importing this package does not import torch.
"""

from sparq_gym.backbones.spec import BACKBONES, BackboneSpec, ExitSpec, LayerSpec, get_spec

__all__ = ["BACKBONES", "BackboneSpec", "ExitSpec", "LayerSpec", "get_spec"]
