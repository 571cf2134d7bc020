package dev.moaserve.decode;

import ai.djl.engine.EngineException;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.JniUtils;
import dev.moaserve.model.ModelConfig;
import dev.moaserve.model.Ops;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * A TorchScript archive written without Python: the layout libtorch's {@code torch::jit::load}
 * reads (a zip of stored entries under {@code archive/}): the class's TorchScript source, a
 * protocol-2 pickle of one module object whose attributes are plain ints, floats and bools, an
 * empty constants table, and the format version. No tensors are stored: the program gets its
 * weights as arguments. libtorch compiles the source when it loads the archive. The source
 * declares no attributes of its own: a line starting {@link #ATTRIBUTES} marks where the
 * declarations of the attributes given here ({@code name : int|float|bool}) are written, so
 * the program's names and the Java that sets them are one list.
 */
final class ScriptArchive {
    /** The source line where the attributes' declarations go. */
    static final String ATTRIBUTES = "  # @attributes";

    private final String className;
    private final String source;
    private final Map<String, Object> attributes = new LinkedHashMap<>();

    /** @param source TorchScript source defining {@code class <className>(Module)} */
    ScriptArchive(String className, String source) {
        this.className = className;
        this.source = source;
        attributes.put("training", false);
    }

    /** Reads a TorchScript source shipped as a class-path resource next to {@code anchor}. */
    static String resource(Class<?> anchor, String name) {
        try (InputStream in = anchor.getResourceAsStream(name)) {
            if (in == null) {
                throw new IllegalStateException("missing resource " + name);
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Sets an attribute the source declares ({@code name : int|float|bool}). */
    ScriptArchive with(String name, Object value) {
        if (!(value instanceof Integer || value instanceof Double || value instanceof Boolean)) {
            throw new IllegalArgumentException(name + ": only int, float and bool attributes are written");
        }
        attributes.put(name, value);
        return this;
    }

    /** The sizes every program of a model reads: depth, widths, experts, local window, routing, the mask value. */
    ScriptArchive withShape(ModelConfig c) {
        return with("depth", c.depth())
                .with("dim", c.dim())
                .with("heads", c.heads())
                .with("dim_head", c.dimHead())
                .with("inner", c.inner())
                .with("experts", c.numExperts())
                .with("local_window", c.localAttnWindowSize())
                .with("routed_kv", c.numRoutedKeyValues())
                .with("cosine_routing", c.cosineSimRouting())
                .with("routing_scale", c.cosineSimScale())
                .with("neg", (double) Ops.NEG);
    }

    /**
     * Loads the archive into libtorch, which compiles its source; a program that does not compile
     * is an {@link IllegalStateException} naming {@code what} and the source line in one line.
     */
    PtSymbolBlock load(NDManager manager, String what) {
        try {
            return JniUtils.loadModule((PtNDManager) manager, new ByteArrayInputStream(bytes()), true, false);
        } catch (IOException | EngineException e) {
            throw new IllegalStateException(what + " does not compile: " + oneLine(e.getMessage()), e);
        }
    }

    static String oneLine(String message) {
        if (message == null) {
            return "";
        }
        return String.join(" ", message.lines().map(String::strip).filter(x -> !x.isEmpty()).toList());
    }

    /** The archive's bytes. */
    byte[] bytes() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (ZipOutputStream zip = new ZipOutputStream(out)) {
            stored(zip, "archive/data.pkl", pickle());
            stored(zip, "archive/code/__torch__.py", declared().getBytes(StandardCharsets.UTF_8));
            stored(zip, "archive/constants.pkl", new byte[] {(byte) 0x80, 2, ')', '.'});
            stored(zip, "archive/version", "3\n".getBytes(StandardCharsets.US_ASCII));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    /** The source with its attributes declared where it marks them (unchanged without the mark). */
    String declared() {
        int at = source.indexOf(ATTRIBUTES);
        if (at < 0) {
            return source;
        }
        StringBuilder d = new StringBuilder();
        for (Map.Entry<String, Object> a : attributes.entrySet()) {
            Object v = a.getValue();
            d.append("  ").append(a.getKey()).append(" : ")
                    .append(v instanceof Boolean ? "bool" : v instanceof Integer ? "int" : "float").append('\n');
        }
        return source.substring(0, at) + d + source.substring(at);
    }

    /** The module object: {@code __torch__.<class>} built from a dict of its attributes. */
    private byte[] pickle() {
        ByteArrayOutputStream p = new ByteArrayOutputStream();
        p.write(0x80);                                    // PROTO 2
        p.write(2);
        ascii(p, "c__torch__\n" + className + "\n");      // GLOBAL
        p.write(')');                                     // EMPTY_TUPLE
        p.write(0x81);                                    // NEWOBJ
        p.write('}');                                     // EMPTY_DICT
        p.write('(');                                     // MARK
        for (Map.Entry<String, Object> a : attributes.entrySet()) {
            byte[] key = a.getKey().getBytes(StandardCharsets.UTF_8);
            p.write('X');                                 // BINUNICODE
            p.writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(key.length).array());
            p.writeBytes(key);
            Object v = a.getValue();
            if (v instanceof Boolean b) {
                p.write(b ? 0x88 : 0x89);                 // NEWTRUE / NEWFALSE
            } else if (v instanceof Integer i) {
                p.write('J');                             // BININT, little-endian
                p.writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(i).array());
            } else {
                p.write('G');                             // BINFLOAT, big-endian
                p.writeBytes(ByteBuffer.allocate(8).order(ByteOrder.BIG_ENDIAN).putDouble((Double) v).array());
            }
        }
        p.write('u');                                     // SETITEMS
        p.write('b');                                     // BUILD
        p.write('.');                                     // STOP
        return p.toByteArray();
    }

    private static void ascii(ByteArrayOutputStream p, String s) {
        p.writeBytes(s.getBytes(StandardCharsets.US_ASCII));
    }

    private static void stored(ZipOutputStream zip, String name, byte[] data) throws IOException {
        ZipEntry e = new ZipEntry(name);
        e.setMethod(ZipEntry.STORED);
        e.setSize(data.length);
        e.setCompressedSize(data.length);
        CRC32 crc = new CRC32();
        crc.update(data);
        e.setCrc(crc.getValue());
        zip.putNextEntry(e);
        zip.write(data);
        zip.closeEntry();
    }
}
