export interface DurableObjectStorageLike {
  get(key: string): Promise<unknown>;
}
