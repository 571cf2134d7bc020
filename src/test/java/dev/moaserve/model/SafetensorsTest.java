package dev.moaserve.model;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class SafetensorsTest {
    @TempDir
    Path dir;

    @Test
    void roundTripsF32F16AndI64() throws IOException {
        float[] values = {0f, 1f, -2.5f, 65504f, 6.1035156e-05f, 3.1415927f};
        Path file = dir.resolve("t.safetensors");
        Safetensors.write(file, List.of(
                Safetensors.Tensor.f32("a", new long[] {2, 3}, values),
                Safetensors.Tensor.f16("b", new long[] {6}, values),
                Safetensors.Tensor.i64("c", new long[] {3}, new long[] {1, -2, 1L << 40})), null);
        Safetensors st = Safetensors.open(file);
        assertArrayEquals(values, read(st.floats("a")));
        float[] half = read(st.floats("b"));
        for (int i = 0; i < values.length; i++) {
            assertEquals(values[i], half[i], Math.abs(values[i]) * 1e-3 + 1e-7);
        }
        assertArrayEquals(new long[] {1, -2, 1L << 40}, st.longs("c"));
        assertArrayEquals(new long[] {2, 3}, st.entry("a").shape());
    }

    /** BF16 must become F32 in Java: a BF16 NDArray would abort the JVM in this engine. */
    @Test
    void convertsBf16ToF32() throws IOException {
        float[] values = {1f, -2f, 0.15625f, 3.0e38f};
        String header = "{\"x\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[0,8]}}";
        byte[] h = header.getBytes(StandardCharsets.US_ASCII);
        ByteBuffer buf = ByteBuffer.allocate(8 + h.length + 8).order(ByteOrder.LITTLE_ENDIAN);
        buf.putLong(h.length).put(h);
        for (float v : values) {
            buf.putShort((short) (Float.floatToIntBits(v) >>> 16));
        }
        Safetensors st = Safetensors.fromBytes(buf.array(), "mem");
        float[] out = read(st.floats("x"));
        for (int i = 0; i < values.length; i++) {
            assertEquals(Float.intBitsToFloat(Float.floatToIntBits(values[i]) & 0xffff0000), out[i]);
        }
    }

    @Test
    void halfConversionIsExactForRepresentableValues() {
        for (int bits = 0; bits < 0x10000; bits++) {
            float f = Half.toFloat((short) bits);
            if (!Float.isNaN(f)) {
                assertEquals((short) bits, Half.fromFloat(f), "bits " + Integer.toHexString(bits));
            }
        }
    }

    private static float[] read(FloatBuffer fb) {
        float[] out = new float[fb.remaining()];
        fb.get(out);
        return out;
    }
}
