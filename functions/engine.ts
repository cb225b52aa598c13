// Placeholder so the stack can reference this entry point; the real handler replaces it.
export const handler = async (): Promise<never> => {
  throw new Error('functions/engine is not built yet');
};
