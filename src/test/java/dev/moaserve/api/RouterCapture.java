package dev.moaserve.api;

import io.vertx.ext.web.Router;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;

/** Keeps the application's Vert.x router, so tests can read the route table the server really has. */
@ApplicationScoped
public class RouterCapture {
    static volatile Router router;

    void capture(@Observes Router r) {
        router = r;
    }
}
