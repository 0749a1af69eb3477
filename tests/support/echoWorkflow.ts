/** The smallest workflow there is, for tests about how workers and clients connect, not what they run. */
export async function echo(text: string): Promise<string> {
  return text;
}
