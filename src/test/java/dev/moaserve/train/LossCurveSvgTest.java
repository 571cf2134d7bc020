package dev.moaserve.train;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Charts draw something for every series, even one of a single point. */
class LossCurveSvgTest {
    @Test
    void aOnePointSeriesIsVisible() {
        String svg = LossCurveSvg.render("t", "x", "y", List.of(new LossCurveSvg.Series("one", new double[] {100},
                new double[] {2.5})));
        assertEquals(1, svg.split("<circle", -1).length - 1, svg);
    }

    @Test
    void longSeriesAreLinesWithoutMarkers() {
        double[] x = new double[100];
        double[] y = new double[100];
        for (int i = 0; i < x.length; i++) {
            x[i] = i;
            y[i] = Math.exp(-i / 30.0);
        }
        String svg = LossCurveSvg.render("t", "x", "y", List.of(new LossCurveSvg.Series("long", x, y)));
        assertTrue(svg.contains("<path d=\"M") && !svg.contains("<circle"), svg);
    }
}
