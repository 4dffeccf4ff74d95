"""DIN: Deep Interest Network for click-through prediction (Zhou et al., KDD 2018).

Items are represented by [item embedding, category embedding] (shared between the history and
the candidate). A :class:`~models.din_layers.LocalActivationUnit` weighs each history item by its
relevance to the candidate; the weighted sum (the user's interest w.r.t. this candidate),
the candidate and their product go through an MLP (200, 80) with Dice to one float32 logit.
``pooling="sum"`` replaces attention by plain sum pooling: the paper's BaseModel.

Mini-batch aware L2 (``mba_l2`` > 0, paper eq. 4-5): only the embedding rows used in the
batch are penalised, each scaled by 1 / its frequency in the training data; the frequencies
are set with :meth:`DIN.set_frequencies`. Static shapes throughout (no tf.unique), except the
attention unit's packing of real history positions, which ``static_shapes=True`` turns off.

Inputs (dict): hist_items, hist_cats [B, L] int (0 = padding), hist_len [B] int,
target_item, target_cat [B] int; with the options below also hist_feedback [B, L] int,
target_count, target_rate, target_feedback [B] float and prior_events, prior_positives,
prior_cat_events, prior_cat_positives [B] int.
"""
from __future__ import absolute_import, division, print_function

import tensorflow as tf

from models import replicas
from models.din_layers import Dice, LocalActivationUnit, make_activation
from core.compat import add_weight, gather, keras, policy_of, register_serializable


@register_serializable()
class DIN(keras.Model):
    """Args:
      num_items / num_categories: id-space sizes, padding id 0 included.
      embedding_dim: per id type (8; the item representation is 2x this).
      attention_units: MLP of the activation unit (80, 40).
      mlp_units: the final MLP (200, 80). activation: ``dice`` (default) or ``prelu``.
      attention_softmax: normalise attention weights (default False, the paper).
      pooling: ``attention`` (DIN) or ``sum`` (BaseModel). mba_l2: MBA regularisation weight.
      recency: number of recency positions the attention can tell apart (0 = none, the
        paper). The paper's unit sees only contents, so it cannot prefer the LAST item when
        what comes next depends on it (sequential data); a learned [recency, 2d] embedding
        of "steps before the candidate" is added to the keys the unit scores (not to the
        pooled interest), and positions further back share the last row.
      history_stats: also feed the MLP the history's length (log1p) and the MEAN of the
        attention-weighted keys (the sum divided by the length) with its product with the
        candidate. The paper's unnormalised sum keeps the intensity of an interest (how many
        related items) but not its SHARE of the history, which is what a posterior over
        interests needs ((count + a) / (length + K a)); an MLP cannot divide by a length it
        is not given. Off in the paper.
      popularity: also feed the MLP log(1 + ``inputs["target_count"]``), the candidate's
        count of positive training events (out of fold on training rows: the task
        excludes the row's own event). Learning an item's popularity through its embedding
        alone needs many events per item and memorises the rest. Off in the paper.
      static_shapes: score every history slot in the attention unit (NPU); False (default)
        packs the real positions (see :class:`models.din_layers.LocalActivationUnit`; same
        weights, about half the unit's work when histories are half full).
      num_feedback: feedback codes of the history events (ratings, stars, behaviour types;
        code 0 = none recorded); > 1 adds a learned [num_feedback, 2d] embedding of each
        event's feedback to its key, both where the unit scores it and in what is pooled: a
        movie rated 1 and one rated 5 are different evidence about the candidate. 0 = off.
      item_rate: also feed log-odds of ``inputs["target_rate"]``, the candidate's positive
        share over its training rows (smoothed, out of fold for training rows), and
        ``inputs["target_feedback"]``, its events' mean rating or stars (centred, smoothed):
        on labelled data (MovieLens) the item's quality, which the item embedding would
        otherwise have to memorise.
      user_stats: also feed the user's running statistics over ALL earlier events (not only
        the ``maxlen`` kept): log(1 + ``prior_events``) and the log-odds of the smoothed liked
        share ``(prior_positives + 1) / (prior_events + 2)``, and the same in the candidate's
        category (``prior_cat_events``, ``prior_cat_positives``) with that category's share
        of the user's events: a summary of the whole history where the unit sees its end.
      wide: a linear term over the simple features (the ones above that are on, plus the
        share of the history in the candidate's category) added to the logit: the learned
        simple baseline (logistic regression on those features) is then a special case of
        the model, which starts from it and learns what the history adds, as NGNN's
        co-occurrence prior does.
    """

    def __init__(self, num_items, num_categories, embedding_dim=8, attention_units=(80, 40),
                 mlp_units=(200, 80), activation="dice", attention_softmax=False,
                 pooling="attention", mba_l2=0.0, recency=0, history_stats=False,
                 popularity=False, static_shapes=False, num_feedback=0, item_rate=False,
                 user_stats=False, wide=False, **kwargs):
        super(DIN, self).__init__(**kwargs)
        if pooling not in ("attention", "sum"):
            raise ValueError("pooling ({!r}) must be 'attention' or 'sum'".format(pooling))
        if activation not in ("dice", "prelu"):
            raise ValueError("activation ({!r}) must be 'dice' or 'prelu'".format(activation))
        self.num_items = int(num_items)
        self.num_categories = int(num_categories)
        self.embedding_dim = int(embedding_dim)
        self.attention_units = tuple(int(u) for u in attention_units)
        self.mlp_units = tuple(int(u) for u in mlp_units)
        self.activation = activation
        self.attention_softmax = bool(attention_softmax)
        self.pooling = pooling
        self.mba_l2 = float(mba_l2)
        self.recency = int(recency)
        self.history_stats = bool(history_stats)
        self.popularity = bool(popularity)
        self.static_shapes = bool(static_shapes)
        self.num_feedback = int(num_feedback)
        self.item_rate = bool(item_rate)
        self.user_stats = bool(user_stats)
        self.wide = bool(wide)
        if self.num_feedback < 0:
            raise ValueError("num_feedback ({!r}) must be >= 0".format(num_feedback))
        if self.recency < 0:
            raise ValueError("recency ({!r}) must be >= 0".format(recency))
        self.attention = None
        policy = policy_of(self)  # sublayers compute like the model, not like the global policy
        if pooling == "attention":
            self.attention = LocalActivationUnit(self.attention_units, softmax=attention_softmax,
                                                 packed=not self.static_shapes,
                                                 name="attention", dtype=policy)
        # Sublayers are attributes, not a list: Keras 3 keeps lists in its own tracker, which
        # tf.train.Checkpoint does not see (their weights would silently not be saved).
        names = []
        for i, units in enumerate(self.mlp_units):
            setattr(self, "mlp_%d" % i, keras.layers.Dense(units, name="mlp_%d" % i,
                                                           dtype=policy))
            setattr(self, "mlp_activation_%d" % i, make_activation(activation, dtype=policy))
            names += ["mlp_%d" % i, "mlp_activation_%d" % i]
        self._mlp_names = tuple(names)
        self.logit = keras.layers.Dense(1, dtype="float32", name="logit")
        if self.wide:
            self.wide_logit = keras.layers.Dense(1, dtype="float32", name="wide_logit",
                                                 kernel_initializer="zeros")

    @staticmethod
    def weight_count(num_items, num_categories, embedding_dim, attention_units=(80, 40),
                     mlp_units=(200, 80), recency=0, num_feedback=0, attention=True):
        """About how many weights a DIN of these sizes holds, WITHOUT allocating them.

        Why: a mistyped size (``mlp_units=[1000000000]``, ``recency=1000000000``) must be
        refused with a message before TensorFlow tries to allocate it and the process is
        killed. An upper bound within a few per cent of ``count_params`` (tested): the MLP's
        input is taken at its widest (every optional input on).

        Args:
          as the constructor's; ``attention``: whether ``pooling`` is ``attention``.

        Returns:
          An int.
        """
        d = int(embedding_dim)

        def chain(width, units):
            total = 0
            for out in tuple(int(u) for u in units) + (1,):
                total += width * out + out + 4 * out  # kernel, bias, the activation's state
                width = out
            return total

        return int((num_items + num_categories) * (d + 1) +
                   (int(recency) * bool(attention) + max(int(num_feedback), 0)) * 2 * d +
                   (chain(8 * d, attention_units) if attention else 0) +
                   chain(6 * d + 48, mlp_units))

    @property
    def mlp(self):
        """The MLP's Dense layers in order (kept as attributes, so that checkpoints track them)."""
        return [getattr(self, name) for name in self._mlp_names]

    def build(self, input_shape=None):
        uniform = keras.initializers.RandomUniform(-0.05, 0.05)
        self.item_embedding = add_weight(self, "item_embedding",
                                         (self.num_items, self.embedding_dim), uniform,
                                         autocast=False)
        self.category_embedding = add_weight(self, "category_embedding",
                                             (self.num_categories, self.embedding_dim), uniform,
                                             autocast=False)
        self.item_frequency = add_weight(self, "item_frequency", (self.num_items,), "ones",
                                         trainable=False)
        self.category_frequency = add_weight(self, "category_frequency", (self.num_categories,),
                                             "ones", trainable=False)
        if self.recency and self.attention is not None:
            self.recency_embedding = add_weight(self, "recency_embedding",
                                                (self.recency, 2 * self.embedding_dim),
                                                "zeros", autocast=False)
        if self.num_feedback > 1:
            self.feedback_embedding = add_weight(self, "feedback_embedding",
                                                 (self.num_feedback, 2 * self.embedding_dim),
                                                 "zeros", autocast=False)
        self.built = True
        # build every sublayer now (from the config alone), so saved weights load eagerly
        dummy = {"hist_items": tf.zeros([1, 1], tf.int32), "hist_cats": tf.zeros([1, 1], tf.int32),
                 "hist_feedback": tf.zeros([1, 1], tf.int32),
                 "hist_len": tf.zeros([1], tf.int32), "target_item": tf.zeros([1], tf.int32),
                 "target_cat": tf.zeros([1], tf.int32), "target_count": tf.zeros([1], tf.float32),
                 "target_rate": tf.fill([1], 0.5), "target_feedback": tf.zeros([1], tf.float32),
                 "prior_events": tf.zeros([1], tf.int32),
                 "prior_positives": tf.zeros([1], tf.int32),
                 "prior_cat_events": tf.zeros([1], tf.int32),
                 "prior_cat_positives": tf.zeros([1], tf.int32)}
        self.call(dummy, training=False)

    def set_frequencies(self, item_counts, category_counts):
        """Training-data frequencies for mini-batch aware regularisation (>= 1 each).

        Args:
          item_counts: [num_items] training events per item id.
          category_counts: [num_categories] training events per category id.
        """
        if not self.built:
            self.build()
        self.item_frequency.assign(tf.maximum(tf.cast(item_counts, tf.float32), 1.0))
        self.category_frequency.assign(tf.maximum(tf.cast(category_counts, tf.float32), 1.0))

    def _embed(self, items, cats):
        dt = self.compute_dtype
        return tf.concat([tf.cast(gather(self.item_embedding, items), dt),
                          tf.cast(gather(self.category_embedding, cats), dt)], axis=-1)

    def _keys(self, inputs, hist_items, hist_cats):
        """[B, L, 2d] the history's keys: item and category embeddings, plus each event's
        feedback embedding when the model has one."""
        keys = self._embed(hist_items, hist_cats)
        if self.num_feedback > 1:
            codes = tf.cast(inputs["hist_feedback"], tf.int32)
            keys += tf.cast(gather(self.feedback_embedding, codes), keys.dtype)
        return keys

    def attention_weights(self, inputs):
        """[B, L] float32: the weight the activation unit gives each history slot of each
        row (0 on padding), exactly as :meth:`call` computes it (feedback and recency in the
        keys), for plots and inspection.

        Args:
          inputs: the model's input dict.

        Returns:
          The weights.

        Raises:
          ValueError: a sum-pooling BaseModel (no attention).
        """
        if self.attention is None:
            raise ValueError("a sum-pooling BaseModel has no attention to show")
        hist_items = tf.cast(inputs["hist_items"], tf.int32)
        hist_cats = tf.cast(inputs["hist_cats"], tf.int32)
        mask = tf.sequence_mask(inputs["hist_len"], hist_items.shape[1], dtype=tf.float32)
        keys = self._with_recency(self._keys(inputs, hist_items, hist_cats), inputs["hist_len"])
        query = self._embed(tf.cast(inputs["target_item"], tf.int32),
                            tf.cast(inputs["target_cat"], tf.int32))
        return tf.cast(self.attention(query, keys, mask, training=False), tf.float32)

    def _with_recency(self, keys, hist_len):
        """keys + the embedding of each slot's distance from the candidate (left-aligned
        histories: slot j of a history of length n is n - 1 - j steps back)."""
        if not self.recency:
            return keys
        length = keys.shape[1] or tf.shape(keys)[1]
        back = tf.cast(hist_len, tf.int32)[:, None] - 1 - tf.range(length)[None, :]
        back = tf.clip_by_value(back, 0, self.recency - 1)
        return keys + tf.cast(gather(self.recency_embedding, back), keys.dtype)

    def _simple_features(self, inputs, hist_cats, target_cats, mask):
        """[B, k] float32: the simple baseline's features that the options switch on (the
        candidate's popularity and positive rate, the user's running statistics, and with
        ``wide`` the history's share in the candidate's category); None when none is on."""
        columns = []
        if self.popularity:
            count = tf.cast(inputs["target_count"], tf.float32)
            columns.append(tf.math.log1p(tf.maximum(count, 0.0)))
        if self.item_rate:
            columns += [_log_odds(tf.cast(inputs["target_rate"], tf.float32)),
                        tf.cast(inputs["target_feedback"], tf.float32)]
        if self.user_stats:
            events = tf.maximum(tf.cast(inputs["prior_events"], tf.float32), 0.0)
            liked = tf.clip_by_value(tf.cast(inputs["prior_positives"], tf.float32), 0.0,
                                     events)
            cat_events = tf.clip_by_value(tf.cast(inputs["prior_cat_events"], tf.float32), 0.0,
                                          events)
            cat_liked = tf.clip_by_value(tf.cast(inputs["prior_cat_positives"], tf.float32),
                                         0.0, cat_events)
            columns += [tf.math.log1p(events), _log_odds((liked + 1.0) / (events + 2.0)),
                        tf.math.log1p(cat_events), cat_events / tf.maximum(events, 1.0),
                        _log_odds((cat_liked + 1.0) / (cat_events + 2.0))]
        if self.wide:
            same = tf.cast(tf.equal(hist_cats, target_cats[:, None]), tf.float32) * mask
            length = tf.maximum(tf.reduce_sum(mask, axis=1), 1.0)
            columns.append(tf.reduce_sum(same, axis=1) / length)
        if not columns:
            return None
        return tf.stack(columns, axis=1)

    def _mba_penalty(self, table, frequency, ids, size):
        """sum over DISTINCT ids in the batch of ||e_id||^2 / freq_id, with static shapes:
        each occurrence carries 1 / (its count in the batch).

        With several replicas (:mod:`models.replicas`) the counts are those of the GLOBAL
        batch (one all-reduce of a [size] vector) and the replicas' shares are summed, so
        every replica holds the whole penalty of the global batch, like any regulariser.
        """
        flat = tf.reshape(ids, [-1])
        count = replicas.total(
            tf.math.unsorted_segment_sum(tf.ones_like(flat, tf.float32), flat, size))
        used = tf.cast(flat > 0, tf.float32)  # padding id 0 is not a real row
        weight = used / (tf.gather(count, flat) * gather(frequency, flat))
        norms = tf.reduce_sum(tf.square(gather(table, flat)), axis=-1)
        return replicas.total(tf.reduce_sum(weight * norms))

    def call(self, inputs, training=False):
        hist_items = tf.cast(inputs["hist_items"], tf.int32)
        hist_cats = tf.cast(inputs["hist_cats"], tf.int32)
        target_items = tf.cast(inputs["target_item"], tf.int32)
        target_cats = tf.cast(inputs["target_cat"], tf.int32)
        length = hist_items.shape[1] or tf.shape(hist_items)[1]
        mask = tf.sequence_mask(inputs["hist_len"], length, dtype=tf.float32)
        keys = self._keys(inputs, hist_items, hist_cats)  # [B, L, 2d]
        query = self._embed(target_items, target_cats)  # [B, 2d]
        if self.attention is not None:
            weights = self.attention(query, self._with_recency(keys, inputs["hist_len"]),
                                     mask, training=training)
        else:
            weights = mask
        interest = tf.reduce_sum(keys * tf.cast(weights, keys.dtype)[..., None], axis=1)
        features = [interest, query, interest * query]
        if self.history_stats:
            length = tf.cast(inputs["hist_len"], interest.dtype)[:, None]
            mean = interest / tf.maximum(length, 1.0)
            features += [tf.math.log1p(length), mean, mean * query]
        simple = self._simple_features(inputs, hist_cats, target_cats, mask)
        if simple is not None:
            features.append(tf.cast(simple, interest.dtype))
        x = tf.concat(features, axis=-1)
        for layer in self.mlp:
            x = layer(x, training=training) if isinstance(layer, Dice) else layer(x)
        logit = tf.squeeze(tf.cast(self.logit(x), tf.float32), -1)
        if self.wide:
            logit += tf.squeeze(self.wide_logit(simple), -1)
        if training and self.mba_l2 > 0:
            items = tf.concat([hist_items, target_items[:, None]], axis=1)
            cats = tf.concat([hist_cats, target_cats[:, None]], axis=1)
            penalty = (self._mba_penalty(self.item_embedding, self.item_frequency, items,
                                         self.num_items)
                       + self._mba_penalty(self.category_embedding, self.category_frequency,
                                           cats, self.num_categories))
            self.add_loss(self.mba_l2 * penalty)
        return logit

    def get_config(self):
        return {"num_items": self.num_items, "num_categories": self.num_categories,
                "embedding_dim": self.embedding_dim,
                "attention_units": list(self.attention_units),
                "mlp_units": list(self.mlp_units), "activation": self.activation,
                "attention_softmax": self.attention_softmax, "pooling": self.pooling,
                "mba_l2": self.mba_l2, "recency": self.recency,
                "history_stats": self.history_stats, "popularity": self.popularity,
                "static_shapes": self.static_shapes, "num_feedback": self.num_feedback,
                "item_rate": self.item_rate, "user_stats": self.user_stats, "wide": self.wide,
                "name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _log_odds(probability):
    """log(p / (1 - p)), clipped to [1e-4, 1 - 1e-4] (finite for rates of 0 and 1)."""
    p = tf.clip_by_value(probability, 1e-4, 1.0 - 1e-4)
    return tf.math.log(p) - tf.math.log1p(-p)
