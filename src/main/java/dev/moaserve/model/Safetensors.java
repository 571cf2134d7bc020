package dev.moaserve.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A safetensors file: an 8-byte little-endian header length, a JSON header
 * ({@code name -> {dtype, shape, data_offsets}}), then the raw tensor bytes.
 *
 * <p>Files are memory-mapped one tensor at a time, so size is not limited by Java arrays, and the
 * whole header is validated (offsets inside the file, sizes matching dtype × shape) before any
 * tensor is read. BF16 and F16 are converted to F32 here, in Java, because a BF16 NDArray aborts
 * the JVM in the DJL PyTorch engine.
 */
public final class Safetensors {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final long MAX_HEADER = 100L << 20;

    /** Element types this reader understands, with their byte widths. */
    public enum DType {
        F64(8), F32(4), F16(2), BF16(2), I64(8), I32(4);

        final int bytes;

        DType(int bytes) {
            this.bytes = bytes;
        }
    }

    /** One entry of the header. */
    public record Entry(String name, DType dtype, long[] shape, long begin, long end) {
        public long elements() {
            long n = 1;
            for (long d : shape) {
                n *= d;
            }
            return n;
        }
    }

    private final String source;
    private final Map<String, Entry> entries;
    private final Map<String, String> metadata;
    private final Source data;

    private Safetensors(String source, Map<String, Entry> entries, Map<String, String> metadata, Source data) {
        this.source = source;
        this.entries = entries;
        this.metadata = metadata;
        this.data = data;
    }

    /** Opens and validates a file on disk (memory-mapped). */
    public static Safetensors open(Path path) {
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            if (size < 8 || ch.read(lenBuf, 0) != 8) {
                throw new ModelException(path + ": truncated safetensors file (" + size + " bytes, no header)");
            }
            long headerLen = lenBuf.flip().getLong();
            checkHeaderLength(path.toString(), headerLen, size);
            ByteBuffer header = ByteBuffer.allocate((int) headerLen);
            while (header.hasRemaining() && ch.read(header, 8 + header.position()) > 0) {
                // read fully
            }
            byte[] headerBytes = header.array();
            long dataStart = 8 + headerLen;
            Source src = (offset, length) -> {
                try (FileChannel c = FileChannel.open(path, StandardOpenOption.READ)) {
                    return c.map(FileChannel.MapMode.READ_ONLY, dataStart + offset, length)
                            .order(ByteOrder.LITTLE_ENDIAN);
                }
            };
            return parse(path.toString(), headerBytes, size - dataStart, src);
        } catch (IOException e) {
            throw new ModelException(path + ": cannot read safetensors file: " + e.getMessage(), e);
        }
    }

    /** Parses and validates a file held in memory (e.g. a classpath resource). */
    public static Safetensors fromBytes(byte[] bytes, String source) {
        if (bytes.length < 8) {
            throw new ModelException(source + ": truncated safetensors file (" + bytes.length + " bytes, no header)");
        }
        ByteBuffer all = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        long headerLen = all.getLong(0);
        checkHeaderLength(source, headerLen, bytes.length);
        byte[] header = Arrays.copyOfRange(bytes, 8, 8 + (int) headerLen);
        int dataStart = 8 + (int) headerLen;
        Source src = (offset, length) -> ByteBuffer.wrap(bytes, dataStart + (int) offset, (int) length)
                .slice().order(ByteOrder.LITTLE_ENDIAN);
        return parse(source, header, bytes.length - dataStart, src);
    }

    private static void checkHeaderLength(String source, long headerLen, long fileSize) {
        if (headerLen <= 0 || headerLen > MAX_HEADER || headerLen > fileSize - 8) {
            throw new ModelException(source + ": bad safetensors header length " + headerLen
                    + " for a file of " + fileSize + " bytes (truncated or not a safetensors file)");
        }
    }

    private static Safetensors parse(String source, byte[] header, long dataSize, Source src) {
        JsonNode root;
        try {
            root = JSON.readTree(new String(header, StandardCharsets.UTF_8).trim());
        } catch (IOException e) {
            throw new ModelException(source + ": bad safetensors header (not JSON): " + e.getMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw new ModelException(source + ": bad safetensors header (not a JSON object)");
        }
        Map<String, Entry> entries = new LinkedHashMap<>();
        Map<String, String> metadata = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> f = it.next();
            String name = f.getKey();
            JsonNode v = f.getValue();
            if (name.equals("__metadata__")) {
                v.fields().forEachRemaining(m -> metadata.put(m.getKey(), m.getValue().asText()));
                continue;
            }
            entries.put(name, entry(source, name, v, dataSize));
        }
        return new Safetensors(source, Collections.unmodifiableMap(entries), metadata, src);
    }

    private static Entry entry(String source, String name, JsonNode v, long dataSize) {
        String where = source + ": tensor '" + name + "'";
        if (!v.isObject() || !v.path("dtype").isTextual() || !v.path("shape").isArray()
                || !v.path("data_offsets").isArray() || v.path("data_offsets").size() != 2) {
            throw new ModelException(where + ": header entry needs dtype, shape and data_offsets[2]");
        }
        DType dtype;
        try {
            dtype = DType.valueOf(v.get("dtype").asText());
        } catch (IllegalArgumentException e) {
            throw new ModelException(where + ": unsupported dtype '" + v.get("dtype").asText()
                    + "' (supported: " + Arrays.toString(DType.values()) + ")");
        }
        long[] shape = new long[v.get("shape").size()];
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = v.get("shape").get(i);
            if (!d.canConvertToLong() || d.asLong() < 0) {
                throw new ModelException(where + ": bad shape " + v.get("shape"));
            }
            shape[i] = d.asLong();
        }
        long begin = v.get("data_offsets").get(0).asLong(-1);
        long end = v.get("data_offsets").get(1).asLong(-1);
        Entry e = new Entry(name, dtype, shape, begin, end);
        if (begin < 0 || end < begin || end > dataSize) {
            throw new ModelException(where + ": data_offsets [" + begin + ", " + end + "] outside the data section of "
                    + dataSize + " bytes (truncated file?)");
        }
        if (end - begin != e.elements() * dtype.bytes) {
            throw new ModelException(where + ": " + (end - begin) + " bytes do not hold " + dtype + " "
                    + Arrays.toString(shape));
        }
        return e;
    }

    public String source() {
        return source;
    }

    public Map<String, Entry> entries() {
        return entries;
    }

    public Map<String, String> metadata() {
        return metadata;
    }

    public Entry entry(String name) {
        Entry e = entries.get(name);
        if (e == null) {
            throw new ModelException(source + ": missing tensor '" + name + "'");
        }
        return e;
    }

    /** The tensor's values as F32, converting from F16/BF16/F64 (row-major). */
    public FloatBuffer floats(String name) {
        Entry e = entry(name);
        ByteBuffer b = bytes(e);
        switch (e.dtype) {
            case F32:
                return b.asFloatBuffer();
            case F16: {
                float[] out = new float[(int) e.elements()];
                for (int i = 0; i < out.length; i++) {
                    out[i] = Half.toFloat(b.getShort(2 * i));
                }
                return FloatBuffer.wrap(out);
            }
            case BF16: {
                float[] out = new float[(int) e.elements()];
                for (int i = 0; i < out.length; i++) {
                    out[i] = Float.intBitsToFloat((b.getShort(2 * i) & 0xffff) << 16);
                }
                return FloatBuffer.wrap(out);
            }
            case F64: {
                float[] out = new float[(int) e.elements()];
                for (int i = 0; i < out.length; i++) {
                    out[i] = (float) b.getDouble(8 * i);
                }
                return FloatBuffer.wrap(out);
            }
            default:
                throw new ModelException(source + ": tensor '" + name + "' is " + e.dtype + ", expected a float type");
        }
    }

    /** The tensor's values as longs (I64 or I32). */
    public long[] longs(String name) {
        Entry e = entry(name);
        ByteBuffer b = bytes(e);
        long[] out = new long[(int) e.elements()];
        switch (e.dtype) {
            case I64 -> b.asLongBuffer().get(out);
            case I32 -> {
                for (int i = 0; i < out.length; i++) {
                    out[i] = b.getInt(4 * i);
                }
            }
            default -> throw new ModelException(source + ": tensor '" + name + "' is " + e.dtype + ", expected I64/I32");
        }
        return out;
    }

    private ByteBuffer bytes(Entry e) {
        try {
            return data.slice(e.begin, e.end - e.begin);
        } catch (IOException ex) {
            throw new ModelException(source + ": cannot read tensor '" + e.name + "': " + ex.getMessage(), ex);
        }
    }

    @FunctionalInterface
    private interface Source {
        ByteBuffer slice(long offset, long length) throws IOException;
    }

    /** A tensor to write: F32 data or I64 data, with its shape. */
    public record Tensor(String name, long[] shape, float[] f32, long[] i64, boolean half) {
        public static Tensor f32(String name, long[] shape, float[] data) {
            return new Tensor(name, shape, data, null, false);
        }

        public static Tensor f16(String name, long[] shape, float[] data) {
            return new Tensor(name, shape, data, null, true);
        }

        public static Tensor i64(String name, long[] shape, long[] data) {
            return new Tensor(name, shape, null, data, false);
        }
    }

    /** Writes tensors in the order given (header padded to 8 bytes, as the Python library does). */
    public static void write(Path path, Iterable<Tensor> tensors, Map<String, String> metadata) throws IOException {
        ObjectNode header = JSON.createObjectNode();
        if (metadata != null && !metadata.isEmpty()) {
            ObjectNode m = header.putObject("__metadata__");
            metadata.forEach(m::put);
        }
        long offset = 0;
        for (Tensor t : tensors) {
            long bytes = t.i64 != null ? 8L * t.i64.length : (t.half ? 2L : 4L) * t.f32.length;
            ObjectNode e = header.putObject(t.name);
            e.put("dtype", t.i64 != null ? "I64" : t.half ? "F16" : "F32");
            var shape = e.putArray("shape");
            for (long d : t.shape) {
                shape.add(d);
            }
            e.putArray("data_offsets").add(offset).add(offset + bytes);
            offset += bytes;
        }
        byte[] h = JSON.writeValueAsBytes(header);
        int padded = (h.length + 7) / 8 * 8;
        Path tmp = path.resolveSibling(path.getFileName() + ".tmp");
        try (OutputStream out = new java.io.BufferedOutputStream(Files.newOutputStream(tmp), 1 << 20)) {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(padded);
            out.write(len.array());
            out.write(h);
            for (int i = h.length; i < padded; i++) {
                out.write(' ');
            }
            for (Tensor t : tensors) {
                ByteBuffer buf;
                if (t.i64 != null) {
                    buf = ByteBuffer.allocate(8 * t.i64.length).order(ByteOrder.LITTLE_ENDIAN);
                    buf.asLongBuffer().put(t.i64);
                } else if (t.half) {
                    buf = ByteBuffer.allocate(2 * t.f32.length).order(ByteOrder.LITTLE_ENDIAN);
                    for (float f : t.f32) {
                        buf.putShort(Half.fromFloat(f));
                    }
                } else {
                    buf = ByteBuffer.allocate(4 * t.f32.length).order(ByteOrder.LITTLE_ENDIAN);
                    buf.asFloatBuffer().put(t.f32);
                }
                out.write(buf.array());
            }
        }
        Files.move(tmp, path, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }
}
