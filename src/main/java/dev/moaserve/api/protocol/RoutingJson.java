package dev.moaserve.api.protocol;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moaserve.model.ModelConfig;
import dev.moaserve.model.RoutingTrace;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Base64;

/**
 * The {@code routing} object of an answer (docs/api.md "Routing"): a text's routing as compact
 * arrays, SGLang-style — base64 of little-endian int32 with the shape beside it.
 * <pre>{@code
 * {"rule": "exact", "tokens": N, "start": S, "routed_window": w, "local_window": W,
 *  "layers": L, "experts": G, "first_window": i0,
 *  "queries": {"shape": [windows, L, G, k_q],  "dtype": "int32", "data": "…"},
 *  "keys":    {"shape": [windows, L, G, k_kv], "dtype": "int32", "data": "…"},
 *  "scores": null}
 * }</pre>
 * Row r is routed window {@code first_window + r} (positions {@code [i·w, (i+1)·w)}); entries are
 * absolute token positions, −1 where fewer exist. Window 0 has no routed attention; every position
 * p also attends locally to positions {@code p − W … p}.
 */
public final class RoutingJson {
    private RoutingJson() {}

    /** The routing from token position {@code start} on: the routed windows holding positions ≥ start. */
    public static ObjectNode of(RoutingTrace t, int start) {
        ModelConfig c = t.config();
        int first = Math.max(1, Math.min(start, t.tokens()) / c.routedWindowSize());
        int rows = Math.max(0, t.routedWindows() - (first - 1));
        int layers = t.layers().size();
        int kq = t.layers().isEmpty() ? 0 : t.layers().get(0).kq();
        int kkv = t.layers().isEmpty() ? 0 : t.layers().get(0).kkv();
        ObjectNode o = Json.object();
        o.put("rule", "exact");
        o.put("tokens", t.tokens());
        o.put("start", start);
        o.put("routed_window", c.routedWindowSize());
        o.put("local_window", c.localAttnWindowSize());
        o.put("layers", layers);
        o.put("experts", c.numExperts());
        o.put("first_window", first);
        o.set("queries", array(t.queries(first), rows, layers, c.numExperts(), kq));
        o.set("keys", array(t.keys(first), rows, layers, c.numExperts(), kkv));
        o.putNull("scores");
        return o;
    }

    private static ObjectNode array(int[] values, int... shape) {
        ObjectNode a = Json.object();
        var s = a.putArray("shape");
        for (int d : shape) {
            s.add(d);
        }
        a.put("dtype", "int32");
        ByteBuffer b = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        b.asIntBuffer().put(values);
        a.put("data", Base64.getEncoder().encodeToString(b.array()));
        return a;
    }

    /** Decodes a {@code data} field back to ints (tests, and clients written in Java). */
    public static int[] decode(String data) {
        ByteBuffer b = ByteBuffer.wrap(Base64.getDecoder().decode(data)).order(ByteOrder.LITTLE_ENDIAN);
        int[] out = new int[b.remaining() / 4];
        b.asIntBuffer().get(out);
        return out;
    }
}
