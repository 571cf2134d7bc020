package dev.moaserve.api;

import dev.moaserve.engine.Embedder;
import dev.moaserve.model.DecodeMode;

import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/**
 * The settings the API checks requests against, read once from {@link ServingConfig} and checked
 * before anything loads: a wrong name stops startup with one line.
 *
 * @param decodeDefault how requests are decoded unless they ask (moa.decode)
 * @param decodeAllowed the decode modes a request may ask for (moa.decode-allow, plus the default)
 * @param pooling       how an autoregressive model's embeddings pool its hidden states (moa.pooling)
 */
record ServingSettings(DecodeMode decodeDefault, Set<DecodeMode> decodeAllowed, Embedder.Pooling pooling,
                       boolean routingVisible, boolean priorityScheduling, int maxPromptsPerRequest) {
    static ServingSettings of(ServingConfig config) {
        if (!List.of("fcfs", "priority").contains(config.schedulingPolicy())) {
            throw new IllegalStateException("moa.scheduling-policy must be fcfs or priority, got '" + config.schedulingPolicy() + "'");
        }
        Embedder.Pooling pooling;
        try {
            pooling = Embedder.Pooling.parse(config.pooling());
        } catch (IllegalArgumentException e) {
            throw new IllegalStateException("moa.pooling: " + e.getMessage(), e);
        }
        try {
            DecodeMode decode = DecodeMode.parse(config.decode());
            EnumSet<DecodeMode> allowed = EnumSet.of(decode);
            for (String m : config.decodeAllow()) {
                if (!m.isBlank()) {
                    allowed.add(DecodeMode.parse(m));
                }
            }
            return new ServingSettings(decode, Collections.unmodifiableSet(allowed), pooling, config.routingVisible(),
                    "priority".equals(config.schedulingPolicy()), Math.max(1, config.maxPromptsPerRequest()));
        } catch (IllegalArgumentException e) {
            throw new IllegalStateException("moa.decode / moa.decode-allow: " + e.getMessage(), e);
        }
    }
}
