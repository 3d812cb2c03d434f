/** A secret from the environment: never printed, never serialised. `reveal()` is the only way in. */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return '(sensitive)';
  }
  toJSON(): string {
    return '(sensitive)';
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return 'Secret((sensitive))';
  }
}
