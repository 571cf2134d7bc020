package dev.moaserve.api;

import dev.moaserve.api.protocol.ServedModel;
import dev.moaserve.engine.LoadedModel;
import dev.moaserve.model.ChatTemplate;
import dev.moaserve.model.DecodeMode;
import dev.moaserve.model.Tokenizer;

import java.util.Set;

/** What requests are parsed and rendered against: the loaded model and the server's settings. */
record ServedView(LoadedModel model, ServingSettings settings) implements ServedModel {
    @Override
    public String name() {
        return model.name();
    }

    @Override
    public Tokenizer tokenizer() {
        return model.tokenizer();
    }

    @Override
    public int contextLength() {
        return model.contextLength();
    }

    /** An encoder has no chat template (its generation routes answer 400 before parsing). */
    @Override
    public ChatTemplate chatTemplate() {
        return model instanceof LoadedModel.Generator g ? g.chatTemplate() : null;
    }

    @Override
    public DecodeMode decodeDefault() {
        return settings.decodeDefault();
    }

    @Override
    public Set<DecodeMode> decodeAllowed() {
        return settings.decodeAllowed();
    }

    @Override
    public boolean routingVisible() {
        return settings.routingVisible();
    }

    @Override
    public boolean priorityScheduling() {
        return settings.priorityScheduling();
    }

    @Override
    public int maxPromptsPerRequest() {
        return settings.maxPromptsPerRequest();
    }
}
