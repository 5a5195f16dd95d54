"""Model zoo: MLP, LeNet-5, a small VGG, ResNet-18 and the CIFAR ResNet-20, with state_dict
names matching their usual torch definitions, and a name registry for the CLI."""
from ganglion.models.bert import BertConfig, BertModel
from ganglion.models.cnn import MnistCNN, SmallCNN
from ganglion.models.forecaster import LSTMForecaster
from ganglion.models.gpt import GPT, GPTBlock
from ganglion.models.gpt_cache import KVCache
from ganglion.models.lenet import LeNet5
from ganglion.models.mlp import MLP
from ganglion.models.resnet import BasicBlock, CifarResNet, ResNet, resnet18, resnet20
from ganglion.models.seq2seq import Seq2SeqGRU
from ganglion.models.sentence_encoder import SentenceEncoder
from ganglion.models.text_classifier import RecurrentTextClassifier
from ganglion.models.text_classifier_batches import TokenBatches
from ganglion.models.text_classifier_fit import (evaluate_text_classifier, fit_text_classifier,
                                                 predict_text_classifier)
from ganglion.models.text_classifier_transformer import TransformerTextClassifier
from ganglion.models.transfer import freeze, param_groups, unfreeze
from ganglion.models.transformer_seq2seq import TransformerSeq2Seq
from ganglion.models.vgg import VGG, vgg_small

__all__ = ["SmallCNN", "MnistCNN", "MLP", "LeNet5", "VGG", "vgg_small", "ResNet", "resnet18",
           "CifarResNet", "resnet20", "BasicBlock", "LSTMForecaster",
           "GPT", "GPTBlock", "KVCache",
           "BertConfig", "BertModel", "SentenceEncoder",
           "RecurrentTextClassifier", "TransformerTextClassifier", "TokenBatches",
           "fit_text_classifier", "evaluate_text_classifier", "predict_text_classifier",
           "Seq2SeqGRU", "TransformerSeq2Seq",
           "freeze", "unfreeze", "param_groups",
           "get_model", "MODELS"]

MODELS = {
    "small_cnn": lambda num_classes=10, in_channels=1, image_size=8: SmallCNN(
        num_classes, in_channels, image_size),
    "mnist_cnn": lambda num_classes=10, in_channels=1, image_size=28: MnistCNN(
        num_classes, in_channels, image_size),
    "mlp": lambda num_classes=10, in_channels=1, image_size=28: MLP(
        in_channels * image_size * image_size, [512, 256], num_classes, dropout=0.2),
    "lenet5": lambda num_classes=10, in_channels=1, image_size=28: LeNet5(num_classes,
                                                                          in_channels),
    "vgg_small": lambda num_classes=10, in_channels=3, image_size=32: vgg_small(num_classes,
                                                                                in_channels),
    "resnet18": lambda num_classes=10, in_channels=3, image_size=32: resnet18(num_classes,
                                                                              in_channels),
    "resnet20": lambda num_classes=10, in_channels=3, image_size=32: resnet20(num_classes,
                                                                              in_channels),
}

from ganglion.models.registry import get_model  # noqa: E402 - MODELS first; weights=path
