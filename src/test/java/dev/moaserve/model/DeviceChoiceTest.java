package dev.moaserve.model;

import ai.djl.Device;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class DeviceChoiceTest {

    @Test
    void cpuAndAutoResolveToWhatDjlSees() {
        assertEquals(Device.cpu(), DeviceChoice.resolve("cpu"));
        assertEquals(Device.cpu(), DeviceChoice.resolve(" CPU "));
        int gpus = Djl.engine().getGpuCount();
        assertEquals(gpus > 0 ? Device.gpu(0) : Device.cpu(), DeviceChoice.resolve("auto"));
    }

    @Test
    void cudaWithoutAGpuIsOneClearError() {
        assumeTrue(Djl.engine().getGpuCount() == 0, "this machine has a GPU");
        ModelException e = assertThrows(ModelException.class, () -> DeviceChoice.resolve("cuda:1"));
        System.out.println(e.getMessage());
        assertTrue(e.getMessage().startsWith("moa.device=cuda:1 asks for CUDA device 1 but DJL found no GPU"), e.getMessage());
        assertTrue(e.getMessage().contains("libtorch 2.7.1 (cpu)"), e.getMessage());
        assertEquals(1, e.getMessage().lines().count());
    }

    @Test
    void unknownDeviceNamesTheAcceptedValues() {
        ModelException e = assertThrows(ModelException.class, () -> DeviceChoice.resolve("tpu"));
        assertEquals("moa.device must be auto, cpu, cuda or cuda:N, got 'tpu'", e.getMessage());
    }

    @Test
    void dtypeDefaultsPerDevice() {
        assertEquals(ai.djl.ndarray.types.DataType.FLOAT32, DeviceChoice.dtype("auto", Device.cpu()));
        assertEquals(ai.djl.ndarray.types.DataType.FLOAT16, DeviceChoice.dtype("auto", Device.gpu(0)));
        assertEquals(ai.djl.ndarray.types.DataType.FLOAT16, DeviceChoice.dtype("float16", Device.cpu()));
        assertEquals(ai.djl.ndarray.types.DataType.BFLOAT16, DeviceChoice.dtype("bf16", Device.cpu()));
        ModelException e = assertThrows(ModelException.class, () -> DeviceChoice.dtype("int8", Device.cpu()));
        assertEquals("moa.dtype must be auto, float32, float16 or bfloat16, got 'int8'", e.getMessage());
    }
}
