import os

from sqlalchemy import Column, ForeignKey, Integer, String, create_engine
from sqlalchemy.orm import declarative_base, relationship, sessionmaker

Base = declarative_base()


class Note(Base):
    __tablename__ = "note"
    id = Column(Integer, primary_key=True)
    text = Column(String(200), nullable=False)
    tags = relationship("Tag", back_populates="note", cascade="all, delete-orphan")


class Tag(Base):
    __tablename__ = "tag"
    id = Column(Integer, primary_key=True)
    note_id = Column(Integer, ForeignKey("note.id"), nullable=False)
    name = Column(String(40), nullable=False)
    note = relationship("Note", back_populates="tags")


def session():
    """A session on $NOTES_DB, its tables made when missing."""
    engine = create_engine("sqlite:///" + os.environ["NOTES_DB"], connect_args={"timeout": 20})
    Base.metadata.create_all(engine)
    return sessionmaker(bind=engine)()
