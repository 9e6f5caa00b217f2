// Tests read many JSON answers; let them be `any` there, as the assertions check their shape.
export {};

declare global {
  interface Response {
    json<T = any>(): Promise<T>;
  }
}
