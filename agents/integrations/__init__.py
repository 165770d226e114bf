"""The field's tools around the agents: SB3 / RL Zoo files, TensorBoard, Ray and RLlib."""
