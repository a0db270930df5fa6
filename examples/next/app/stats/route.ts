// GET /stats: what the tests watch.
import { recipe } from "../../recipe.ts";

export async function GET(): Promise<Response> {
  return Response.json((await recipe()).stats());
}
