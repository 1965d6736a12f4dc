import pytest

from tests.factories import ReactionFactory, TagFactory

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.mark.parametrize("model", ["board", "thread", "post", "tag", "reaction"])
def test_it_lists_every_forum_model_in_the_admin(admin_client, thread, model):
    TagFactory()
    ReactionFactory(target=thread.posts.get())

    response = admin_client.get(f"/admin/forum/{model}/")

    assert response.status_code == 200
    assert response.context["cl"].result_count >= 1


def test_it_edits_a_post_with_its_reactions_inline(admin_client, thread):
    post = thread.posts.get()
    ReactionFactory(target=post, kind="insight")

    response = admin_client.get(f"/admin/forum/post/{post.pk}/change/")

    assert response.status_code == 200
    assert b"insight" in response.content
