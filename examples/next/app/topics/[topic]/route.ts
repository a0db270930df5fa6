// GET /topics/:topic subscribes to a hub topic (Last-Event-ID resumes it);
// POST /topics/:topic publishes an event to it.
import { recipe } from "../../../recipe.ts";

interface Context {
  params: Promise<{ topic: string }>;
}

export async function GET(
  request: Request,
  { params }: Context,
): Promise<Response> {
  const { hub } = await recipe();
  return hub.response(request, (await params).topic);
}

export async function POST(
  request: Request,
  { params }: Context,
): Promise<Response> {
  const { hub } = await recipe();
  const id = await hub.publish((await params).topic, await request.json());
  return Response.json({ id });
}
