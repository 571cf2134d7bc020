package dev.moaserve.api.protocol;

import dev.moaserve.engine.Sampler;

/**
 * One piece of choice {@code index}'s output as the engine reported it: a token and the text it
 * released, or (token −1, no choice) text held back for stop strings and released at the end.
 */
public record TokenEvent(int index, int token, String text, Sampler.Choice choice) {}
