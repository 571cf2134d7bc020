package dev.moaserve.model;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.types.DataType;
import ai.djl.util.cuda.CudaUtils;

import java.io.IOException;
import java.io.InputStream;
import java.lang.management.MemoryUsage;
import java.util.Locale;
import java.util.Properties;

/**
 * The {@code moa.device} setting: {@code auto} (CUDA if DJL sees a GPU, else the CPU),
 * {@code cpu}, {@code cuda} or {@code cuda:N}. Asking for CUDA where there is none is one clear
 * error naming what was asked, what DJL found and which libtorch is loaded — never a JNI trace
 * from the first tensor.
 */
public final class DeviceChoice {
    private DeviceChoice() {}

    /** Resolves a {@code moa.device} value against what the loaded engine sees. */
    public static Device resolve(String spec) {
        String s = spec == null ? "auto" : spec.trim().toLowerCase(Locale.ROOT);
        Engine engine = Djl.engine();
        int gpus = engine.getGpuCount();
        if (s.equals("auto")) {
            return gpus > 0 ? Device.gpu(0) : Device.cpu();
        }
        if (s.equals("cpu")) {
            return Device.cpu();
        }
        int id;
        if (s.equals("cuda") || s.equals("gpu")) {
            id = 0;
        } else if (s.matches("(cuda|gpu):\\d{1,3}")) {
            id = Integer.parseInt(s.substring(s.indexOf(':') + 1));
        } else {
            throw new ModelException("moa.device must be auto, cpu, cuda or cuda:N, got '" + spec + "'");
        }
        if (id >= gpus) {
            throw new ModelException("moa.device=" + spec + " asks for CUDA device " + id + " but DJL found "
                    + (gpus == 0 ? "no GPU" : gpus + " GPU(s)") + "; loaded libtorch " + libtorch()
                    + (gpus == 0 ? " (a CPU build runs only on moa.device=cpu; see docs/deploy.md for CUDA)" : ""));
        }
        return Device.gpu(id);
    }

    /**
     * Resolves {@code moa.dtype} (the matmuls' precision): {@code auto} (float32 on the CPU,
     * float16 on CUDA), {@code float32}, {@code float16} (the decode state's keys/values too),
     * {@code bfloat16} (matmuls only, cast inside the decode step program: DJL 0.36's PyTorch
     * engine aborts the JVM on a bfloat16 array, so Java never holds one; fast on CPUs with
     * AVX512-BF16 or AMX).
     */
    public static DataType dtype(String spec, Device device) {
        String s = spec == null ? "auto" : spec.trim().toLowerCase(Locale.ROOT);
        switch (s) {
            case "auto":
                return device.isGpu() ? DataType.FLOAT16 : DataType.FLOAT32;
            case "float32":
            case "fp32":
                return DataType.FLOAT32;
            case "float16":
            case "fp16":
            case "half":
                return DataType.FLOAT16;
            case "bfloat16":
            case "bf16":
                return DataType.BFLOAT16;
            default:
                throw new ModelException("moa.dtype must be auto, float32, float16 or bfloat16, got '" + spec + "'");
        }
    }

    /** libtorch version and flavor, e.g. {@code 2.7.1 (cpu)}. */
    public static String libtorch() {
        String version = Djl.engine().getVersion();
        return version + " (" + flavor() + ")";
    }

    /** The flavor of the libtorch DJL loads: from PYTORCH_FLAVOR, else the native jar on the classpath. */
    static String flavor() {
        String env = System.getenv("PYTORCH_FLAVOR");
        if (env != null && !env.isBlank()) {
            return env;
        }
        if (System.getenv("PYTORCH_LIBRARY_PATH") != null) {
            return "from PYTORCH_LIBRARY_PATH";
        }
        try (InputStream in = DeviceChoice.class.getClassLoader().getResourceAsStream("native/lib/pytorch.properties")) {
            if (in != null) {
                Properties p = new Properties();
                p.load(in);
                return p.getProperty("flavor", "unknown");
            }
        } catch (IOException e) {
            // fall through: unknown
        }
        return "unknown";
    }

    /** One line for the startup log: the device and, for a GPU, its name and memory. */
    public static String describe(Device device) {
        if (!device.isGpu()) {
            return "cpu, libtorch " + libtorch();
        }
        MemoryUsage mem = CudaUtils.getGpuMemory(device);
        return String.format(Locale.ROOT, "cuda:%d (compute capability %s, %.1f GiB total), libtorch %s",
                device.getDeviceId(), CudaUtils.getComputeCapability(device.getDeviceId()),
                mem.getMax() / (1024.0 * 1024 * 1024), libtorch());
    }
}
