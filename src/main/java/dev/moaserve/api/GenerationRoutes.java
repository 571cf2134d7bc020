package dev.moaserve.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moaserve.api.protocol.GenerationSpec;
import dev.moaserve.api.protocol.Protocol;
import dev.moaserve.engine.LoadedModel;
import dev.moaserve.engine.RequestEvents;
import dev.moaserve.engine.RequestFailure;
import dev.moaserve.engine.RequestHandle;
import dev.moaserve.engine.RequestState;
import dev.moaserve.engine.Sampler;
import dev.moaserve.engine.TokenListener;
import dev.moaserve.model.RoutingTrace;
import io.vertx.core.Context;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.jboss.logging.Logger;

import java.util.List;
import java.util.UUID;

/**
 * The generation endpoints: OpenAI {@code /v1/completions}, {@code /v1/chat/completions},
 * {@code /v1/responses} and TGI {@code /generate}, {@code /generate_stream} ({@link RouteTable}).
 * Each request is parsed by its {@link Protocol}, submitted to the engine's front door
 * ({@link dev.moaserve.engine.RequestPipeline}), and its events written by a {@link ResponseWriter}
 * on the request's own Vert.x context; a client that disconnects cancels it.
 */
@ApplicationScoped
public class GenerationRoutes {
    @Inject
    ModelService service;

    @Inject
    ModelDoor door;

    @Inject
    io.opentelemetry.api.trace.Tracer tracer;

    void handle(RoutingContext rc, Protocol protocol, boolean stream) {
        door.serveJson(rc, protocol.errors(), (body, lease) -> generate(rc, protocol, stream, body, lease));
    }

    private void generate(RoutingContext rc, Protocol protocol, boolean stream, JsonNode body, ModelSlot.Lease lease) {
        LoadedModel.Generator model = lease.generator("generate text");
        List<GenerationSpec> parts = protocol.parseAll(body, lease.view(), stream);
        String id = protocol.idPrefix() + UUID.randomUUID().toString().replace("-", "").substring(0, 24);
        RequestIds.use(rc, id);
        boolean warmUp = service.isWarmUp(rc.request().getHeader(HttpWarmUp.HEADER));
        ResponseWriter writer = new ResponseWriter(lease.view(), rc.response(), protocol, parts, id, RequestIds.of(rc),
                RequestSpan.start(tracer, protocol.operation(), protocol.name(), model.name(), id, RequestIds.of(rc)),
                warmUp ? Logger.Level.DEBUG : Logger.Level.INFO);
        Context ctx = rc.vertx().getOrCreateContext();
        for (int p = 0; p < parts.size(); p++) {
            model.pipeline().submit(parts.size() == 1 ? id : id + "/" + p, parts.get(p).request(), new OnContext(ctx, writer, p));
        }
        lease.onDisconnect(writer::disconnected);
    }

    /** The engine's events, handed to the writer on the request's context, in the order the engine gave them. */
    private record OnContext(Context ctx, ResponseWriter writer, int part) implements RequestEvents {
        @Override
        public void onSubmitted(RequestHandle handle) {
            writer.attach(part, handle); // on this thread: before the writer writes anything
        }

        @Override
        public void onState(RequestState state) {
            ctx.runOnContext(v -> writer.onState(state));
        }

        @Override
        public void onToken(int choice, int token, String text, Sampler.Choice sampled) {
            ctx.runOnContext(v -> writer.onToken(part, choice, token, text, sampled));
        }

        @Override
        public void onChoiceEnd(int choice, TokenListener.Finish finish, RoutingTrace routing, String routingError) {
            ctx.runOnContext(v -> writer.onChoiceEnd(part, choice, finish, routing, routingError));
        }

        @Override
        public void onFailed(RequestFailure failure) {
            ctx.runOnContext(v -> writer.onFailed(failure));
        }
    }
}
