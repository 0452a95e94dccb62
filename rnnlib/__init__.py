"""rnnlib: the small numpy library behind "RNNs from scratch".

Every exercise function of the course has a reference implementation here, under the same name:
``from rnnlib import rnn_backward``. One idea per module:

rnn        vanilla RNN step/sequence forward and backward, stateful TimeRNN
lstm       LSTM step/sequence forward and backward, stateful TimeLSTM
gru        GRU step/sequence forward and backward (the LSTM's twin, one state)
bidirectional  a forward and a backward RNN (or LSTM) side by side
layers     embedding and temporal affine layers
losses     stable softmax, log_softmax, logsumexp, temporal softmax loss
gradcheck  the trusted numerical gradient checker
optim      SGD, Adagrad, Adam, gradient clipping
data       corpora, vocabulary, truncated-BPTT batches, binary-addition and long-range tasks
models     CharRNN (stacked with num_layers), SequenceTagger, the binary-addition model
gradflow   gradient norms through time (RNN and LSTM), the data behind lessons 04 and 07
attention  scaled dot-product attention over an encoder's steps, with a mask for padding
decoding   greedy decoding and beam search over any decoder step
seq2seq    the encoder-decoder (two GRUs), with or without attention
grading    the checks behind every test cell
widgets    the interactive explorers
threads    one BLAS thread (the course's products are too small to share between threads)

The reference code has one style. rnn_forward/rnn_backward, lstm_forward/lstm_backward and
gru_forward/gru_backward are the vectorised form: the input term x @ Wx + b for all T steps in one
product, and each weight gradient as one product over all steps. The per-step loop that students write in the notebooks computes the
same numbers; rnn.step_forward/step_backward (and lstm's) show one step. Each module's public
``step_*`` functions are unchecked: they are for callers that have validated the inputs already
(the models); everyone else calls the checked ``rnn_step_*``/``lstm_step_*``. Likewise the
recurrences themselves, rnn.forward_steps/backward_steps, lstm.forward_steps/backward_steps and
gru.forward_steps/backward_steps (time-major, in place), and losses.softmax_cross_entropy: the
sequence functions and the fused training passes of CharRNN and SequenceTagger run on them.
"""
from .threads import use_one_blas_thread

use_one_blas_thread()

from .gradcheck import check_gradients, numerical_gradient, numerical_gradient_array, rel_error
from .layers import embedding_backward, embedding_forward, temporal_affine_backward, temporal_affine_forward
from .losses import log_softmax, logsumexp, softmax, temporal_softmax_loss
from .rnn import TimeRNN, rnn_backward, rnn_forward, rnn_step_backward, rnn_step_forward
from .data import (Vocab, all_binary_addition_pairs, binary_addition_batch, bits_to_int, first_bit_batch,
                   int_to_bits, load_corpus, lookahead_batch, random_binary_addition_batch, reverse_batch,
                   tbptt_batches)
from .lstm import TimeLSTM, lstm_backward, lstm_forward, lstm_step_backward, lstm_step_forward
from .gru import gru_backward, gru_forward, gru_step_backward, gru_step_forward
from .bidirectional import bidirectional_backward, bidirectional_forward
from .models import BinaryAdder, CharRNN, SequenceTagger
from .optim import SGD, Adagrad, Adam, adagrad_update, clip_grad_norm
from .gradflow import jacobian_norms
from .attention import attention_backward, attention_forward, masked_softmax
from .decoding import beam_search, greedy_decode
from .seq2seq import Seq2Seq
