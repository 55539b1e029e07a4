/**
 * TensorFlow.js as the runtime uses it: core, layers and the pure-JS CPU backend. Not the @tensorflow/tfjs
 * umbrella: it also loads WebGL, the graph-model converter and tf.data, none of which runs here, and costs
 * about 190 MB of a runtime-only install (bench/install.ts).
 * The umbrella also registers chained ops (`tensor.add(x)`); this does not, so call the functional form
 * (`tf.add(tensor, x)`).
 */
import '@tensorflow/tfjs-backend-cpu';

export * from '@tensorflow/tfjs-core';
export * from '@tensorflow/tfjs-layers';
