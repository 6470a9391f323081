import * as tf from '@tensorflow/tfjs-core';

/**
 * Fills the optimizer slot of the Trainer behind `instrument()` when the user's step has no
 * optimizer we know of: that trainer never steps, and this says so if anything tries.
 */
export class UsersOwnStep extends tf.Optimizer {
  static get className(): string {
    return 'taylorlens.UsersOwnStep';
  }

  override applyGradients(): void {
    throw new Error('an instrumented model is stepped by your own code (instrument(), model.fit), never by taylorlens');
  }

  override async getWeights(): Promise<{ name: string; tensor: tf.Tensor }[]> {
    return [];
  }

  override async setWeights(): Promise<void> {}

  override getConfig(): tf.serialization.ConfigDict {
    return {};
  }
}
