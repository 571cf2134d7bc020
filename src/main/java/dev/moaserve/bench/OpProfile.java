package dev.moaserve.bench;

import ai.djl.pytorch.jni.JniUtils;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The operations a step program runs, counted by libtorch's own profiler (DJL's
 * {@link JniUtils#startProfile}, a Chrome trace of every {@code aten::} call): the top-level ones,
 * those the TorchScript interpreter dispatches itself (an operation called inside another, such as
 * the {@code as_strided} inside a {@code slice}, is part of its caller's cost), by kind. Each such
 * operation pays the interpreter, the dispatcher and its output's allocation, whatever its size:
 * at one stream the step is bound by their number, not by its arithmetic (docs/decoding.md).
 */
final class OpProfile {
    /** What an operation does, for the count by kind. */
    enum Kind { MATMUL, ELEMENTWISE, INDEXING, REDUCTION, SORT_TOPK, OTHER }

    /** Top-level operations per profiled call, by kind. */
    record Counts(Map<Kind, Double> perCall, Map<String, Double> byName, Map<String, Double> usByName) {
        double total() {
            return perCall.values().stream().mapToDouble(Double::doubleValue).sum();
        }

        /** The most frequent operations by name, most first: {@code aten::slice=85 aten::to=62 ...}. */
        String topNames(int n) {
            return top(byName, n, "%.0f");
        }

        /** Where the profiled step's time goes, by operation (µs per call, under the profiler), most first. */
        String topTimes(int n) {
            return top(usByName, n, "%.1f");
        }

        private static String top(Map<String, Double> values, int n, String format) {
            StringBuilder b = new StringBuilder();
            values.entrySet().stream().sorted(Map.Entry.<String, Double>comparingByValue().reversed()).limit(n)
                    .forEach(e -> b.append(b.length() == 0 ? "" : " ").append(e.getKey()).append('=')
                            .append(String.format(Locale.ROOT, format, e.getValue())));
            return b.toString();
        }

        String line() {
            StringBuilder b = new StringBuilder();
            for (Kind k : Kind.values()) {
                b.append(b.length() == 0 ? "" : " ").append(k.name().toLowerCase(Locale.ROOT)).append('=')
                        .append(String.format(Locale.ROOT, "%.0f", perCall.getOrDefault(k, 0.0)));
            }
            return b.toString();
        }
    }

    /** Matmuls, and attention (a fused pair of them). */
    private static final Set<String> MATMUL = Set.of("linear", "mm", "bmm", "matmul", "addmm", "baddbmm", "einsum", "dot",
            "scaled_dot_product_attention", "_scaled_dot_product_flash_attention_for_cpu");
    private static final Set<String> REDUCTION = Set.of("sum", "mean", "amax", "amin", "max", "min", "softmax", "_softmax",
            "log_softmax", "logsumexp", "layer_norm", "native_layer_norm", "norm", "linalg_vector_norm", "rms_norm", "cumsum", "cumprod", "any", "all", "prod",
            "var", "std", "argmax", "argmin", "count_nonzero");
    private static final Set<String> SORT_TOPK = Set.of("topk", "sort", "argsort", "multinomial", "unique");
    private static final Set<String> INDEXING = Set.of("slice", "select", "narrow", "index", "index_select", "gather",
            "scatter", "scatter_", "scatter_add", "index_put", "index_put_", "index_copy", "index_copy_", "masked_fill",
            "masked_fill_", "masked_select", "cat", "stack", "view", "reshape", "transpose", "permute", "expand", "expand_as",
            "unsqueeze", "squeeze", "contiguous", "copy_", "clone", "flatten", "unflatten", "split", "chunk",
            "unbind", "repeat", "t", "arange", "zeros", "ones", "full", "empty", "zeros_like", "ones_like", "full_like",
            "empty_like", "new_zeros", "new_full", "new_empty", "fill_", "zero_", "alias", "detach", "roll", "flip",
            "slice_scatter", "select_scatter", "tensor_split", "view_as", "reshape_as", "movedim", "diagonal", "tril", "triu");

    private OpProfile() {}

    /** Runs {@code calls} calls of {@code step} under libtorch's profiler and counts their operations. */
    static Counts profile(Runnable step, int calls) {
        try {
            Path trace = Files.createTempFile("moa-ops", ".json");
            try {
                JniUtils.startProfile(false, false, false);
                try {
                    for (int i = 0; i < calls; i++) {
                        step.run();
                    }
                } finally {
                    JniUtils.stopProfile(trace.toString());
                }
                return count(new ObjectMapper().readTree(trace.toFile()), calls);
            } finally {
                Files.deleteIfExists(trace);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The top-level {@code aten::} events of a Chrome trace (not inside another on their thread), by kind, per call. */
    static Counts count(JsonNode trace, int calls) {
        JsonNode events = trace.isArray() ? trace : trace.path("traceEvents");
        List<JsonNode> ops = new ArrayList<>();
        for (JsonNode e : events) {
            if ("X".equals(e.path("ph").asText()) && e.path("name").asText().startsWith("aten::")) {
                ops.add(e);
            }
        }
        // by thread, then start; of two that start together the longer encloses the other
        ops.sort(Comparator.comparing((JsonNode e) -> e.path("tid").asText()).thenComparingDouble(e -> e.path("ts").asDouble())
                .thenComparing(Comparator.comparingDouble((JsonNode e) -> e.path("dur").asDouble()).reversed()));
        Map<Kind, Double> counts = new EnumMap<>(Kind.class);
        Map<String, Double> byName = new java.util.TreeMap<>();
        Map<String, Double> usByName = new java.util.TreeMap<>();
        Deque<Double> open = new ArrayDeque<>(); // end times of the enclosing operations on this thread
        String thread = null;
        for (JsonNode e : ops) {
            String tid = e.path("tid").asText();
            if (!tid.equals(thread)) {
                thread = tid;
                open.clear();
            }
            double start = e.path("ts").asDouble();
            while (!open.isEmpty() && start >= open.peek()) {
                open.pop();
            }
            if (open.isEmpty()) {
                counts.merge(kind(e.path("name").asText()), 1.0 / calls, Double::sum);
                byName.merge(e.path("name").asText(), 1.0 / calls, Double::sum);
                usByName.merge(e.path("name").asText(), e.path("dur").asDouble() / calls, Double::sum);
            }
            open.push(start + e.path("dur").asDouble());
        }
        return new Counts(counts, byName, usByName);
    }

    /** The kind of {@code aten::name} (an in-place variant's trailing underscore aside). */
    static Kind kind(String atenName) {
        String n = atenName.substring(atenName.indexOf("::") + 2);
        if (MATMUL.contains(n)) {
            return Kind.MATMUL;
        }
        if (INDEXING.contains(n)) {
            return Kind.INDEXING;
        }
        String base = n.endsWith("_") && !n.startsWith("_") ? n.substring(0, n.length() - 1) : n;
        if (REDUCTION.contains(base)) {
            return Kind.REDUCTION;
        }
        if (SORT_TOPK.contains(base)) {
            return Kind.SORT_TOPK;
        }
        return ELEMENTWISE.contains(base) ? Kind.ELEMENTWISE : Kind.OTHER;
    }

    private static final Set<String> ELEMENTWISE = Set.of("add", "sub", "mul", "div", "neg", "exp", "log", "sqrt", "rsqrt",
            "pow", "abs", "sigmoid", "tanh", "gelu", "silu", "relu", "where", "clamp", "clamp_min", "clamp_max", "maximum",
            "minimum", "eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_not", "bitwise_and",
            "bitwise_or", "remainder", "fmod", "floor", "ceil", "round", "floor_divide", "sin", "cos", "reciprocal", "rsub",
            "addcmul", "addcdiv", "lerp", "masked_scale", "dropout", "type_as", "sign", "isnan", "isinf", "nan_to_num",
            "to", "_to_copy", "resolve_conj", "resolve_neg");
}
